"""Door evidence (issue 17.2): the grid Bayes filter over the shop front and its pool with
the particle estimate, on the planned fashion layout with the simulator's radio model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from positioning.layout import Layout, load_layout
from positioning.registry import make_locator
from positioning.tracker.door import (
    DoorEvidence,
    DoorParams,
    door_cells,
    pooled_inside,
    walking_kernel,
)
from positioning.walkable import DEFAULT_STREET_DEPTH_M, WalkableGrid
from tests.positioning.test_tracker_street import _readings

PLANNED = Path(__file__).resolve().parents[2] / "examples" / "stores" / "planned" / "fashion.toml"
DOOR_ONLY = DoorParams(weight=1.0)  # p_inside is the door evidence alone


@pytest.fixture(scope="module")
def planned() -> Layout:
    return load_layout(PLANNED)


def test_the_pool_averages_log_odds_and_weight_zero_is_the_particle_estimate() -> None:
    particles, door = np.array([0.9, 0.2, 0.5]), np.array([0.1, 0.99, 0.5])
    assert np.array_equal(pooled_inside(particles, door, 0.0), particles)
    np.testing.assert_allclose(pooled_inside(particles, door, 1.0), door, atol=1e-9)
    half = pooled_inside(particles, door, 0.5)
    np.testing.assert_allclose(half[0], 0.5, atol=1e-9)  # 9:1 and 1:9 cancel
    assert particles[1] < half[1] < door[1]
    assert pooled_inside(np.array([1.0]), np.array([0.0]), 0.5)[0] == pytest.approx(0.5)


def test_cells_lie_on_both_sides_within_the_band_and_the_glass_is_crossed_at_the_door(
    planned: Layout,
) -> None:
    params = DoorParams(weight=1.0)
    grid = WalkableGrid.from_layout(planned, street_depth_m=DEFAULT_STREET_DEPTH_M)
    xy, inside = door_cells(planned, grid, params)
    assert inside.any() and (~inside).any()
    assert np.all(xy[inside, 1] <= params.band_m) and np.all(xy[~inside, 1] < 0.0)
    kernel = walking_kernel(planned, xy, inside, params).toarray()
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, rtol=1e-6)
    # the entrance is x 13-17 at y = 0: a step across it is a step, beside it a leak
    door_in = np.flatnonzero(inside & (np.abs(xy[:, 0] - 15.0) < 0.6) & (xy[:, 1] < 1.0))[0]
    wall_in = np.flatnonzero(inside & (np.abs(xy[:, 0] - 5.0) < 0.6) & (xy[:, 1] < 1.0))[0]
    assert kernel[door_in, ~inside].sum() > 0.1
    assert kernel[wall_in, ~inside].sum() < 0.01


def test_a_place_without_a_door_has_no_door_evidence(planned: Layout) -> None:
    lab = dataclasses.replace(planned, entrance=None)
    grid = WalkableGrid.from_layout(lab, street_depth_m=0.0)
    assert not DoorEvidence(lab, grid, DOOR_ONLY).enabled
    tracker = make_locator("tracker", lab, seed=1, door=DOOR_ONLY)
    assert not tracker.door.enabled  # type: ignore[attr-defined]


def _p_inside(layout: Layout, path: npt.NDArray[np.float64], seed: int) -> npt.NDArray[np.float64]:
    batch = _readings(layout, path, np.zeros(len(path)), 0.0, seed, "d")
    loc = make_locator("tracker", layout, seed=seed, door=DOOR_ONLY)
    ps = []
    for t_s in np.arange(1.0, float(batch.t_s.max()), 1.0):
        loc.observe(batch.take((batch.t_s > t_s - 1.0) & (batch.t_s <= t_s)))
        fix = loc.estimate(float(t_s))
        assert fix.p_inside is not None
        ps.append(fix.p_inside[0] if len(fix) else np.nan)
    return np.asarray(ps)


@pytest.mark.parametrize("seed", [71, 72, 73])
def test_the_door_evidence_rises_for_a_shopper_walking_in_and_not_for_a_passer_by(
    planned: Layout, seed: int
) -> None:
    street = np.column_stack([np.linspace(0.5, 29.5, 23), np.full(23, -2.0)])
    passing = _p_inside(planned, street, seed)
    # the first seconds start even (half street, half floor); the store rule waits 10 s
    assert np.nanmax(passing[5:]) < 0.5, passing
    legs = [[3.0, -2.0], [15.0, -2.0], [15.0, 0.0], [15.0, 8.0]]
    path = np.concatenate(
        [
            np.linspace(a, b, int(np.hypot(*np.subtract(b, a)) / 1.1) + 1)
            for a, b in zip(legs[:-1], legs[1:], strict=True)
        ]
    )
    path = np.concatenate([path, np.tile(legs[-1], (20, 1))])
    p_in = _p_inside(planned, path, seed + 10)
    crossing = int(np.argmax(path[:, 1] >= 0.0))  # second of the door crossing
    assert np.nanmax(p_in[: crossing - 3]) < 0.9, p_in
    sure = np.flatnonzero(p_in >= 0.975)
    assert len(sure) and sure[0] - crossing <= 12, p_in
