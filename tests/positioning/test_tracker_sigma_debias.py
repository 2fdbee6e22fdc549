"""Issue 16 phase 3: sigma_m's model-free check compares the centroid heard with the centroid
expected at the fix, so the centroid's own pull towards the beacons' middle is not counted
as the fix's error; the fix itself never changes."""

from __future__ import annotations

import numpy as np
from locators_synth import merge, observe_path, small_store, straight_walk

from positioning.baselines import weighted_centroid
from positioning.locator import PositionFix
from positioning.registry import make_locator
from positioning.tracker.filter import ParticleTracker


def test_the_expected_centroid_removes_the_pull_to_the_middle() -> None:
    """Readings that are exactly the model's at a point near a corner: the plain centroid sits
    metres from the point, the one expected there is where the centroid is heard."""
    layout = small_store()
    tracker = ParticleTracker(layout, seed=0)
    xy = np.array([[1.5, 1.5], [10.0, 6.0], [18.5, 10.5]])
    heard = np.ones((len(xy), len(layout.beacons)), dtype=bool)
    rssi = tracker.radio.predicted_dbm(xy, np.zeros(len(xy)))
    seen, _ = weighted_centroid(
        rssi, tracker.radio.tx_power_dbm, layout.beacon_xy, tracker.radio.calibration.exponent
    )
    expected = tracker.radio.centroid_at(xy, heard)
    pull = np.linalg.norm(seen - xy, axis=1)
    assert pull[0] > 1.0 and pull[2] > 1.0
    np.testing.assert_allclose(expected, seen, atol=1e-6)


def _fixes(debias: bool) -> list[PositionFix]:
    layout = small_store()
    rng = np.random.default_rng(3)
    t, xy = straight_walk((2, 2), (18, 10))
    t, xy = np.r_[t, t[-1] + 30.0], np.vstack([xy, [[18.5, 10.5]]])
    batch = merge(observe_path(layout, "a", t, xy, rng, sigma_db=4.0))
    loc = make_locator("tracker", layout, seed=7, sigma_centroid_debias=debias)
    out = []
    for ts in np.arange(1.0, float(batch.t_s.max()), 1.0):
        loc.observe(batch.take((batch.t_s > ts - 1.0) & (batch.t_s <= ts)))
        out.append(loc.estimate(float(ts)))
    return out


def test_only_the_reported_sigma_changes() -> None:
    plain, debiased = _fixes(False), _fixes(True)
    assert len(plain) == len(debiased) > 20
    for a, b in zip(plain, debiased, strict=True):
        np.testing.assert_array_equal(a.xy_m, b.xy_m)
        np.testing.assert_array_equal(a.spread_m, b.spread_m)
    sa = np.concatenate([f.sigma_m for f in plain])
    sb = np.concatenate([f.sigma_m for f in debiased])
    assert not np.allclose(sa, sb)
