"""The tracker's path-loss lookups and unheard-beacon term: the fast layouts give the same
values as the plain ones (the throughput work must not move a fix)."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.tracker.filter import ParticleTracker
from positioning.tracker.likelihood import LikelihoodParams, miss_log_likelihood


def _tracker_and_points(seed: int) -> tuple[ParticleTracker, np.ndarray, np.ndarray]:
    layout = small_store()
    tracker = ParticleTracker(layout, seed=0)
    rng = np.random.default_rng(seed)
    free = np.flatnonzero(tracker.grid.free.ravel())
    cells = rng.choice(free, 40, replace=False)
    iy, ix = np.divmod(cells, tracker.grid.free.shape[1])
    points = tracker.grid.cell_centre(ix, iy).astype(np.float32)  # (40, 2)
    beacons = np.stack([rng.permutation(len(layout.beacons))[:3] for _ in range(5)])  # (5, 3)
    return tracker, points, beacons


def test_shared_points_lookup_is_the_per_device_lookup() -> None:
    # the start grid: the same points for every device, looked up once and broadcast
    tracker, points, beacons = _tracker_and_points(seed=1)
    shared = np.broadcast_to(points, (len(beacons), *points.shape))
    cell = np.broadcast_to(tracker.radio.floor.cell_index(points[None]), shared.shape[:2])
    fast = tracker.radio.path_loss(shared, beacons, cell=cell)
    plain = tracker.radio.path_loss(np.ascontiguousarray(shared), beacons)
    assert fast.shape == (5, 40, 3)
    np.testing.assert_array_equal(fast, plain)
    major = tracker.radio.path_loss(shared, beacons, cell=cell, beacon_major=True)
    np.testing.assert_array_equal(major, plain.transpose(0, 2, 1))


def test_beacon_major_lookup_is_the_transposed_one() -> None:
    tracker, points, beacons = _tracker_and_points(seed=2)
    pos = np.stack([np.roll(points, k, axis=0) for k in range(len(beacons))])  # (5, 40, 2)
    heading = np.random.default_rng(3).integers(0, 9, pos.shape[:2]).astype(np.uint8)
    plain = tracker.radio.path_loss(pos, beacons, heading)
    major = tracker.radio.path_loss(pos, beacons, heading, beacon_major=True)
    assert major.shape == (5, 3, 40)
    np.testing.assert_array_equal(major, plain.transpose(0, 2, 1))
    assert not np.array_equal(plain, tracker.radio.path_loss(pos, beacons))  # heading counts


def test_miss_term_is_the_logistic_floor_probability_summed_over_valid_beacons() -> None:
    radio = LikelihoodParams(sigma_fast_db=4.0, sigma_slow_db=3.0)  # one reading: 5 dB
    loss = np.array([[[30.0, 45.0, 60.0], [50.0, 20.0, 80.0]]], np.float32)  # (1, U=2, N=3)
    expected = np.array([[-50.0, -55.0]], np.float32)
    valid = np.array([[True, False]])  # the second is padding
    got = miss_log_likelihood(loss, expected, valid, -95.0, 0.1, radio)
    z = (-95.0 - (expected[0, 0] - loss[0, 0].astype(float))) / 5.0
    want = np.log(0.1 + 0.9 / (1.0 + np.exp(-1.702 * z)))
    assert got.shape == (1, 3)
    np.testing.assert_allclose(got[0], want, rtol=1e-5)
    both = miss_log_likelihood(loss, expected, np.ones((1, 2), bool), -95.0, 0.1, radio)
    assert (both[0] < got[0]).all()  # a second unheard beacon only lowers it


def test_the_wall_profile_holds_only_until_the_first_fit() -> None:
    """``wall_prior_sd_db``: the obstacles crossed to each beacon reach the likelihood while the
    wall loss is an unfitted prior, and stop once the self-calibration has fitted."""
    layout = small_store()  # one shelf
    tracker = ParticleTracker(layout, seed=0, radio=LikelihoodParams(wall_prior_sd_db=3.0))
    radio = tracker.radio
    _, points, beacons = _tracker_and_points(seed=4)
    pos = np.broadcast_to(points, (len(beacons), *points.shape))
    cell = radio.floor.cell_index(np.ascontiguousarray(pos))
    crossed, loss = radio._unfitted_walls(beacons, cell)
    assert crossed is not None and crossed.shape == (5, 40, 3)
    assert crossed.any() and loss == radio.calibration.obstacle_loss_db
    np.testing.assert_array_equal(crossed[0, :, 0], radio.crossings_at(points)[:, beacons[0, 0]])
    radio.calibration.fits = 1
    assert radio._unfitted_walls(beacons, cell) == (None, 0.0)
    off = ParticleTracker(layout, seed=0).radio
    assert off._unfitted_walls(beacons, cell) == (None, 0.0)
