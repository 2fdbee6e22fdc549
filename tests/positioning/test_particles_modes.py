"""Semi-Markov mode switching of the particles: spell durations as a mixture of short and long."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from locators_synth import observe_path, small_store

from beacons.observation import ObservationBatch
from positioning.tracker.filter import ParticleTracker, _mode_weights
from positioning.tracker.particles import FloorMap, MotionParams, predict, switch_probability
from positioning.tracker.state import ParticleState
from positioning.walkable import DEFAULT_STREET_DEPTH_M, WalkableGrid


def test_without_long_spells_the_chain_is_memoryless() -> None:
    motion = MotionParams(walk_to_still_per_s=0.1, still_to_walk_per_s=0.2, long_walk_fraction=0.0)
    ages = np.array([[0.0, 0.0], [300.0, 300.0]], np.float32)
    p = switch_probability(ages, np.array([[2.0], [2.0]], np.float32), motion)
    expected = [1 - np.exp(-0.2), 1 - np.exp(-0.4)]
    np.testing.assert_allclose(p, [expected, expected], rtol=1e-5)


def test_a_walk_that_has_lasted_is_less_likely_to_stop() -> None:
    motion = MotionParams(
        walk_to_still_per_s=0.1, long_walk_fraction=0.1, long_walk_to_still_per_s=0.01
    )
    walked = np.array([0.0, 10.0, 30.0, 60.0, 600.0], np.float32)
    ages = np.column_stack([walked, walked])
    p = switch_probability(ages, np.ones((5, 1), np.float32), motion)
    assert (np.diff(p[:, 0]) < 0).all()
    # a fresh walk: mostly a short one; an old one: surely a long one
    assert p[0, 0] == pytest.approx(1 - (0.9 * np.exp(-0.1) + 0.1 * np.exp(-0.01)), rel=1e-5)
    assert p[-1, 0] == pytest.approx(1 - np.exp(-0.01), rel=1e-4)
    # standing keeps its memoryless rate while long_stop_fraction is 0
    np.testing.assert_allclose(p[:, 1], 1 - np.exp(-0.1), rtol=1e-5)


def test_a_device_that_has_walked_long_keeps_its_walkers_walking() -> None:
    """predict switches each particle at the rate of its device's mode age: walkers of a
    device walking for 10 minutes rarely stop, those of one that just set off stop at the
    short-spell rate; standing particles use the standing age."""
    floor = FloorMap.from_grid(
        WalkableGrid.from_layout(small_store(), street_depth_m=DEFAULT_STREET_DEPTH_M)
    )
    motion = MotionParams(
        walk_to_still_per_s=0.1, long_walk_fraction=0.1, long_walk_to_still_per_s=0.01
    )
    n = 20_000
    rng = np.random.default_rng(3)
    pos = np.tile(np.array([[10.0, 8.0]], np.float32), (3, n, 1))
    vel = np.zeros((3, n, 2), np.float32)
    still = np.zeros((3, n), bool)
    still[2] = True
    heading = np.zeros((3, n), np.uint8)
    ages = np.array([[0.0, 0.0], [600.0, 0.0], [0.0, 600.0]])
    _, _, still, _ = predict(pos, vel, still, heading, np.ones(3), floor, rng, motion, ages)
    stopped = still[:2].mean(axis=1)
    assert stopped[0] == pytest.approx(1 - (0.9 * np.exp(-0.1) + 0.1 * np.exp(-0.01)), abs=0.006)
    assert stopped[1] == pytest.approx(1 - np.exp(-0.01), abs=0.003)
    assert float((~still[2]).mean()) == pytest.approx(1 - np.exp(-0.1), abs=0.006)


def test_mode_age_counts_the_device_current_mode() -> None:
    st = ParticleState(4)
    slots, _ = st.ensure(np.array([0, 1]))
    for _ in range(3):
        st.count_mode_age(slots, np.array([True, False]), np.array([2.0, 2.0]))
    np.testing.assert_allclose(st.mode_age[slots], [[6.0, 0.0], [0.0, 6.0]])
    st.count_mode_age(slots, np.array([False, False]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(st.mode_age[slots], [[0.0, 1.0], [0.0, 7.0]])
    st.reset(slots[:1], np.zeros((1, 4, 2), np.float32), np.random.default_rng(0))
    np.testing.assert_allclose(st.mode_age[slots[0]], [0.0, 0.0])


def _loop_walk(seed: int) -> tuple[np.ndarray, np.ndarray, ObservationBatch]:
    """A walker doing laps of the small store's aisles at 1 m/s for 3 minutes, never stopping."""
    corners = np.array([[2.0, 2.0], [2.0, 10.0], [18.0, 10.0], [18.0, 2.0], [2.0, 2.0]])
    seg = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    lap = np.r_[0.0, np.cumsum(seg)]
    t = np.arange(0.0, 180.0, 0.1)
    s = t % lap[-1]
    xy = np.column_stack([np.interp(s, lap, corners[:, k]) for k in range(2)])
    batch = observe_path(small_store(), "w", t, xy, np.random.default_rng(seed), sigma_db=4.0)
    return t, xy, batch


#: The memoryless chain (the defaults before long walks): walks stop every ~10 s,
#: readings scored at the epoch's end, the mean over both modes.
_MEMORYLESS: dict[str, Any] = {
    "motion": MotionParams(walk_to_still_per_s=0.1, long_walk_fraction=0.0),
    "mode_mean": False,
}
#: Long walks: a walk just begun stops at 0.9 * 0.11 + 0.1 * 0.01 = 0.1/s, as before.
_LONG_WALKS = MotionParams(walk_to_still_per_s=0.11, long_walk_fraction=0.1)


def _mean_lag(batch: ObservationBatch, xy: np.ndarray, **params: Any) -> float:
    """Mean along-track error (negative: behind) of the loop walker, after the first 30 s."""
    lag = []
    for seed in (1, 2):
        loc = ParticleTracker(small_store(), seed=seed, learn_radio_map=False, **params)
        for ts in np.arange(1.0, 180.0, 1.0):
            loc.observe(batch.take((batch.t_s > ts - 1.0) & (batch.t_s <= ts)))
            fix = loc.estimate(float(ts))
            k = int(round(ts / 0.1))
            if ts < 30 or len(fix) == 0 or k + 1 >= len(xy):
                continue
            step = xy[k + 1] - xy[k]
            lag.append(float((fix.xy_m[0] - xy[k]) @ step / np.linalg.norm(step)))
    return float(np.mean(lag))


def test_a_walker_who_never_stops_is_not_trailed() -> None:
    """Along-track error of a continuous walker: long walks in the motion model trail less
    than the memoryless chain (whose walks stop every ~10 s), the walking particles' mean
    less again, and the readings scored where the walker was when they were taken less
    again."""
    _, xy, batch = _loop_walk(11)
    before = _mean_lag(batch, xy, **_MEMORYLESS)
    long_walks = _mean_lag(batch, xy, motion=_LONG_WALKS, mode_mean=False)
    mode_mean = _mean_lag(batch, xy, motion=_LONG_WALKS, mode_mean=True)
    scored = _mean_lag(batch, xy, motion=_LONG_WALKS, mode_mean=True, score_at_reading_time=True)
    assert before < -0.9
    assert long_walks > before + 0.1
    assert mode_mean > before + 0.15
    assert scored > mode_mean + 0.15


def test_the_estimate_follows_the_more_likely_mode() -> None:
    """A cloud 70 % walking ahead and 30 % standing behind: the walker is where its walking
    particles are; a cloud mostly standing keeps its standing particles only."""
    w = np.full((2, 10), 0.1, np.float32)
    still = np.array([[False] * 7 + [True] * 3, [False] * 2 + [True] * 8])
    walking = np.array([0.7, 0.2])
    mw = _mode_weights(w, still, walking)
    np.testing.assert_allclose(mw.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(mw[0], np.r_[np.full(7, 1 / 7), np.zeros(3)], rtol=1e-6)
    np.testing.assert_allclose(mw[1], np.r_[np.zeros(2), np.full(8, 1 / 8)], rtol=1e-6)
