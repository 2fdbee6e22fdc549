"""The tracker's path-loss lookups and unheard-beacon term: the fast layouts give the same
values as the plain ones (the throughput work must not move a fix)."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.tracker.filter import ParticleTracker
from positioning.tracker.likelihood import (
    LikelihoodParams,
    _batched_dot,
    log_likelihood,
    miss_log_likelihood,
)
from positioning.tracker.state import Readings


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


def _readings(tracker: ParticleTracker, beacons: np.ndarray, seed: int) -> Readings:
    """Packed readings for (M, K) beacons, with U = 2 unheard beacons per device."""
    rng = np.random.default_rng(seed)
    m, k = beacons.shape
    others = np.stack(
        [np.setdiff1d(np.arange(len(tracker.layout.beacons)), row)[:2] for row in beacons]
    )
    return Readings(
        beacons,
        rng.uniform(-95.0, -55.0, (m, k)).astype(np.float32),
        rng.integers(0, 4, (m, k)).astype(np.float32),
        rng.normal(0.0, 3.0, m).astype(np.float32),
        np.full(m, 6.0, np.float32),
        np.zeros((m, 3, 2), np.float32),
        others,
        rng.random((m, 2)) < 0.7,
        np.zeros((m, 2)),
    )


def test_residuals_by_rows_and_one_hot_products_are_the_plain_subtractions() -> None:
    # the likelihood's terms come from whole table rows and exact one-hot products: the
    # same float32 values as looking each loss up and subtracting
    tracker, points, beacons = _tracker_and_points(seed=4)
    radio = tracker.radio
    offsets = radio.calibration.beacon_offset_db
    offsets[:] = np.random.default_rng(5).normal(0.0, 2.0, len(offsets))
    r = _readings(tracker, beacons, seed=6)
    power = (radio.tx_power_dbm + radio.calibration.beacon_offset_db).astype(np.float32)
    pos = np.stack([np.roll(points, k, axis=0) for k in range(len(beacons))])  # (5, 40, 2)
    heading = np.random.default_rng(7).integers(0, 9, pos.shape[:2]).astype(np.uint8)
    shared = np.broadcast_to(points, pos.shape)
    for at, head in ((pos, heading), (pos, None), (shared, None)):
        resid, unheard = radio.residuals(at, r, head)
        plain = np.ascontiguousarray(at)
        heard = radio.path_loss(plain, r.beacon, head) + (r.rssi_dbm - power[r.beacon])[:, None, :]
        np.testing.assert_array_equal(resid, heard)
        mean = (power[r.missing] + r.offset_mean_db[:, None])[:, :, None] - radio.path_loss(
            plain, r.missing, beacon_major=True
        )  # the unheard beacons' term: heading unknown
        np.testing.assert_array_equal(unheard, mean)


def test_log_likelihood_is_the_plain_broadcast_student_t() -> None:
    # the diagonal product that scales each beacon's squared residual is exact
    rng = np.random.default_rng(8)
    m, n, k = 6, 50, 7
    loss = rng.uniform(40.0, 90.0, (m, n, k)).astype(np.float32)
    expected = np.full((m, k), -59.0, np.float32)
    rssi = rng.uniform(-95.0, -55.0, (m, k)).astype(np.float32)
    count = rng.integers(0, 4, (m, k)).astype(np.float32)
    mu0, sd0 = rng.normal(0, 3, m).astype(np.float32), np.full(m, 6.0, np.float32)
    radio = LikelihoodParams()
    got = log_likelihood(loss, expected, rssi, count, mu0, sd0, radio)
    # the same steps with the per-beacon scale broadcast along the particles
    nu = np.float32(radio.student_nu)
    var = np.float32(radio.sigma_fast_db**2) / np.maximum(count, 1) + np.float32(
        radio.sigma_slow_db**2
    )
    prec = np.where(count > 0, 1.0 / var, 0.0).astype(np.float32)
    resid = loss + (rssi - expected)[:, None, :]
    prior = (1.0 / sd0**2).astype(np.float32)[:, None]
    offset = (_batched_dot(resid, prec) + prior * mu0[:, None]) / (
        prec.sum(axis=1)[:, None] + prior
    )
    resid -= offset[..., None]
    resid *= resid
    resid *= (prec / nu)[:, None, :]
    want = _batched_dot(np.log1p(resid), np.ones((1, k), np.float32)) * np.float32(
        -0.5 * (nu + 1.0)
    )
    want -= 0.5 * prior * (offset - mu0[:, None]) ** 2
    np.testing.assert_array_equal(got, want)


def test_the_wall_profile_holds_only_until_the_first_fit() -> None:
    """``wall_prior_sd_db``: the obstacles crossed to each beacon reach the likelihood while the
    wall loss is an unfitted prior, and stop once the self-calibration has fitted."""
    layout = small_store()  # one shelf
    tracker = ParticleTracker(layout, seed=0, radio=LikelihoodParams(wall_prior_sd_db=3.0))
    radio = tracker.radio
    _, points, beacons = _tracker_and_points(seed=4)
    pos = np.broadcast_to(points, (len(beacons), *points.shape))
    crossed, loss = radio._unfitted_walls(pos, beacons)
    assert crossed is not None and crossed.shape == (5, 40, 3)
    assert crossed.any() and loss == radio.calibration.obstacle_loss_db
    np.testing.assert_array_equal(crossed[0, :, 0], radio.crossings_at(points)[:, beacons[0, 0]])
    radio.calibration.fits = 1
    assert radio._unfitted_walls(pos, beacons) == (None, 0.0)
    off = ParticleTracker(layout, seed=0).radio
    assert off._unfitted_walls(pos, beacons) == (None, 0.0)
