"""Cramér-Rao bound: a hand-computed case and the expected monotonic behaviour."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.crb import layout_crb, position_crb_m


def test_matches_a_hand_computed_square() -> None:
    # Point at the centre of a 2 x 2 m square of beacons: every d^2 = 2, and
    # sum_b g g^T = (10 n / ln10)^2 * sum (p-b)(p-b)^T / d^4 = k^2 * diag(4, 4) / 4 = k^2 I.
    beacons = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    n, sigma = 2.0, 4.0
    k = 10.0 * n / np.log(10.0)
    expected = np.sqrt(2.0 * sigma**2 / k**2)
    bound = position_crb_m([[0.0, 0.0]], beacons, n, sigma)
    assert np.isclose(bound[0], expected)
    # the offset is unobservable only through the common mode; at the centre it costs nothing
    assert np.isclose(
        position_crb_m([[0.0, 0.0]], beacons, n, sigma, unknown_offset=True)[0], expected
    )


def test_bound_shrinks_with_lower_sigma_more_samples_and_more_beacons() -> None:
    layout = small_store()
    base = layout_crb(layout, sigma_db=6.0).mean_m
    assert layout_crb(layout, sigma_db=3.0).mean_m < base
    assert np.isclose(layout_crb(layout, sigma_db=6.0, samples=4).mean_m, base / 2)
    pts = np.array([[5.0, 5.0], [12.0, 8.0]])
    few = position_crb_m(pts, layout.beacon_xy[:4], 2.0, 6.0)
    many = position_crb_m(pts, layout.beacon_xy, 2.0, 6.0)
    assert (many < few).all()


def test_unknown_offset_never_helps() -> None:
    layout = small_store()
    known = layout_crb(layout, sigma_db=5.0)
    unknown = layout_crb(layout, sigma_db=5.0, unknown_offset=True)
    assert (unknown.bound_m >= known.bound_m - 1e-9).all()
