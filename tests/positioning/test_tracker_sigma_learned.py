"""Issue 16.3: sigma_m shrinks as the store is learned (rows per beacon behind the radio map)
and keeps a stand's bias, which no number of still epochs averages away; only sigma_m moves,
never the fix."""

from __future__ import annotations

from typing import Any

import numpy as np
from locators_synth import observe_path, small_store

from positioning.tracker.filter import ParticleTracker


def _track(path_t: list[float], path_xy: list[list[float]], **params: Any) -> tuple:
    """Fixes, sigma_m and p_zone each second of one phone on the path, and the tracker."""
    layout = small_store()
    t, xy = np.array(path_t), np.array(path_xy)
    batch = observe_path(layout, "a", t, xy, np.random.default_rng(5), sigma_db=4.0)
    tracker = ParticleTracker(layout, seed=3, **params)
    fixes, sigmas, p_zones = [], [], []
    for ts in np.arange(1.0, t[-1], 1.0):
        tracker.observe(batch.take((batch.t_s > ts - 1.0) & (batch.t_s <= ts)))
        fix = tracker.estimate(float(ts))
        fixes.append(fix.xy_m[0])
        sigmas.append(fix.sigma_m[0])
        assert fix.p_zone is not None
        p_zones.append(fix.p_zone[0])
    return np.array(fixes), np.array(sigmas), np.array(p_zones), tracker


#: a walk round the shelf for 2 min, then a stand of 4 min
WALK_T = [0.0, 30.0, 60.0, 90.0, 120.0, 360.0]
WALK_XY = [[3.0, 2.0], [17.0, 2.0], [17.0, 9.0], [3.0, 9.0], [3.0, 8.0], [3.0, 8.0]]


def test_the_stand_term_grows_with_the_stand_and_moves_no_fix() -> None:
    xy_off, s_off, z_off, _ = _track(WALK_T, WALK_XY, sigma_stand_m=0.0)
    xy_on, s_on, z_on, _ = _track(WALK_T, WALK_XY, sigma_stand_m=3.0, sigma_stand_epochs=60.0)
    np.testing.assert_array_equal(xy_off, xy_on)
    # nor p_zone: its calibration was measured worse when widened by a stand's bias
    np.testing.assert_array_equal(z_off, z_on)
    term = np.sqrt(np.maximum(s_on**2 - s_off**2, 0.0))
    assert np.all(s_on >= s_off - 1e-9)
    # walking (a slow walk: the posterior calls some epochs still, so short stretches
    # start and restart) little; after 3 min standing most of g (n / (n + N) = 0.75 at n = 3 N)
    assert np.median(term[20:100]) < 1.0
    assert 1.8 < np.median(term[-30:]) <= 3.0


def test_the_learned_share_shrinks_sigma_by_the_rows_learned_and_moves_no_fix() -> None:
    walk_t = [0.0, 30.0, 60.0, 90.0, 120.0]
    walk_xy = [[3.0, 2.0], [17.0, 2.0], [17.0, 9.0], [3.0, 9.0], [3.0, 2.0]]
    xy_off, s_off, _, off = _track(walk_t, walk_xy)
    rows0, share = 20.0, 0.25
    xy_on, s_on, _, on = _track(
        walk_t, walk_xy, sigma_learned_rows=rows0, sigma_learned_share=share
    )
    np.testing.assert_array_equal(xy_off, xy_on)
    assert on.radio.learner is not None and off.radio.learner is not None
    assert on.radio.learner.rows == off.radio.learner.rows > 0
    assert np.all(s_on <= s_off + 1e-9)
    # the first epochs: nothing learned, no shrink; the end: about sqrt(q) of the same radius
    assert np.allclose(s_on[:3], s_off[:3])
    per_beacon = on.radio.learner.rows / on.radio.learner.n_beacons
    q = share + (1.0 - share) * rows0 / (rows0 + per_beacon)
    assert q < 0.6
    ratio = s_on[-1] / s_off[-1]
    assert abs(ratio - np.sqrt(q)) < 0.1


def test_the_walking_scale_narrows_walking_fixes_only_and_moves_no_fix() -> None:
    # a brisk walk round the shelf (1 m/s, twice), then a stand of 3 min
    walk_t = [0.0, 14.0, 21.0, 35.0, 42.0, 56.0, 63.0, 77.0, 84.0, 264.0]
    loop = [[3.0, 2.0], [17.0, 2.0], [17.0, 9.0], [3.0, 9.0]]
    walk_xy = [*loop, *loop, [3.0, 2.0], [3.0, 2.0]]
    xy_off, s_off, z_off, _ = _track(walk_t, walk_xy)
    xy_on, s_on, z_on, _ = _track(walk_t, walk_xy, sigma_walk_scale=0.6)
    np.testing.assert_array_equal(xy_off, xy_on)
    # applied after p_zone's widening: p_zone does not move
    np.testing.assert_array_equal(z_off, z_on)
    ratio = s_on / s_off
    assert np.all(ratio <= 1.0 + 1e-9) and np.all(ratio >= 0.6 - 1e-9)
    # walking round the shelf: most of the way to 0.6; after 3 min standing: untouched
    assert np.median(ratio[10:80]) < 0.8
    assert np.median(ratio[-30:]) > 0.95
