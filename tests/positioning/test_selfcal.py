"""Self-calibration: the robust fit recovers the radio model from data."""

from __future__ import annotations

import numpy as np
import pytest
from locators_synth import small_store

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.tracker.detection import inverse_mills
from positioning.tracker.radiofit import SelfCalParams, fit_radio_model
from positioning.tracker.selfcal import SelfCalibrator, calibrate_at_known_points


def _readings(
    seed: int, exponent: float, beacon_off: np.ndarray, device_off: np.ndarray, rows: int
):
    layout = small_store()
    rng = np.random.default_rng(seed)
    xy = rng.uniform([0.5, 0.5], [19.5, 11.5], (rows, 2))
    beacon = rng.integers(0, len(layout.beacons), rows)
    device = rng.integers(0, len(device_off), rows)
    d = distance_m(xy, layout.beacon_xy, beacon_height_offsets_m(layout))[np.arange(rows), beacon]
    rssi = (
        layout.tx_power_dbm[beacon]
        + beacon_off[beacon]
        + device_off[device]
        - 10 * exponent * np.log10(d)
        + rng.normal(0, 3.0, rows)
    )
    outliers = rng.random(rows) < 0.05
    rssi[outliers] -= 25.0  # deep fades
    return layout, xy, beacon, device, d, rssi


def test_robust_fit_recovers_exponent_and_offsets_despite_deep_fades() -> None:
    beacon_off = np.array([3.0, -2.0, 0.0, 1.0, -4.0, 2.0, 0.0, -1.0, 1.0])
    device_off = np.array([4.0, -4.0, 0.0])
    layout, _, beacon, device, d, rssi = _readings(0, 2.6, beacon_off, device_off, 20_000)
    fit = fit_radio_model(
        rssi,
        layout.tx_power_dbm[beacon],
        beacon,
        device,
        np.log10(d),
        9,
        2.0,
        SelfCalParams(iterations=30),
    )
    assert abs(fit.exponent - 2.6) < 0.1
    # offsets are identified up to a common shift between beacons and devices
    shift = np.mean(fit.beacon_offset_db - beacon_off)
    assert np.abs(fit.beacon_offset_db - beacon_off - shift).max() < 0.7
    assert np.abs(fit.device_offset_db - device_off + shift).max() < 0.7


def test_fit_stays_within_physical_bounds() -> None:
    layout, _, beacon, device, d, rssi = _readings(1, 2.0, np.zeros(9), np.zeros(1), 2_000)
    fit = fit_radio_model(
        rssi - 60.0,
        layout.tx_power_dbm[beacon],
        beacon,
        device,
        np.log10(d),
        9,
        2.0,
        SelfCalParams(),
    )
    assert np.all(np.abs(fit.beacon_offset_db) <= SelfCalParams().offset_bound_db)
    assert 1.4 <= fit.exponent <= 4.5


def test_explicit_calibration_at_known_points() -> None:
    beacon_off = np.linspace(-3, 3, 9)
    layout, xy, beacon, _, _, rssi = _readings(2, 2.4, beacon_off, np.zeros(1), 5_000)
    cal = calibrate_at_known_points(layout, beacon, rssi, xy)
    assert abs(cal.exponent - 2.4) < 0.15
    error = cal.beacon_offset_db - beacon_off
    # the 5 % deep fades lower the common level a little; the beacons' differences hold
    assert abs(error.mean()) < 1.0
    assert np.abs(error - error.mean()).max() < 0.75
    assert cal.obstacle_loss_db < 1.0  # no obstacle loss in these data


def _feed(
    cal: SelfCalibrator, t_s: float, rssi: np.ndarray, fix_xy: np.ndarray, layout, h2
) -> None:
    """One epoch of devices 0..D-1 with (D, B) readings at confident fixes (sigma 0.5 m)."""
    n = len(fix_xy)
    cal.add(
        t_s,
        np.arange(n),
        rssi,
        np.ones_like(rssi, dtype=np.int64),
        fix_xy,
        np.full(n, 0.5),
        layout.beacon_xy,
        layout.tx_power_dbm,
        h2,
    )


def test_online_calibrator_learns_a_device_offset_from_fixes() -> None:
    layout = small_store()
    rng = np.random.default_rng(3)
    cal = SelfCalibrator(9, 2.0, SelfCalParams(refit_every_s=5.0, min_rows=100))
    h2 = beacon_height_offsets_m(layout) ** 2
    for t in range(60):
        xy = rng.uniform([1, 1], [19, 11], (2, 2))
        d = distance_m(xy, layout.beacon_xy, np.sqrt(h2))
        rssi = layout.tx_power_dbm - 20 * np.log10(d) + np.array([[6.0], [-6.0]])
        rssi += rng.normal(0, 2.0, rssi.shape)
        _feed(cal, float(t), rssi, xy, layout, h2)
    mean, sigma = cal.device_prior(np.array([0, 1, 7]), 6.0)
    assert mean[0] > 4.0 and mean[1] < -4.0 and mean[2] == 0.0
    assert sigma[0] < 6.0 and sigma[2] == 6.0
    assert abs(cal.exponent - 2.0) < 0.2


@pytest.mark.parametrize("place_rows", [0.0, 5.0])
def test_a_device_left_at_one_spot_cannot_fit_the_beacon_offsets_to_its_own_fix(
    place_rows: float,
) -> None:
    # One phone standing for ten minutes, its fix 2 m off: without the per-place cap its
    # thousands of rows bend every beacon offset towards that fix (lock-in); with it they
    # count as a few rows per beacon and the ridge keeps the offsets near 0.
    layout = small_store()
    rng = np.random.default_rng(5)
    params = SelfCalParams(refit_every_s=5.0, min_rows=100, place_rows=place_rows)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    true_xy, fix_xy = np.array([[6.0, 4.0]]), np.array([[8.0, 5.0]])
    d = distance_m(true_xy, layout.beacon_xy, np.sqrt(h2))
    for t in range(600):
        rssi = layout.tx_power_dbm - 20 * np.log10(d) + rng.normal(0, 2.0, d.shape)
        _feed(cal, float(t), rssi, fix_xy, layout, h2)
    bent = float(np.abs(cal.beacon_offset_db).max())
    if place_rows:
        assert bent < 1.0
    else:
        assert bent > 2.0


def _truncated_rows(exponent: float, seed: int) -> tuple[tuple, float]:
    # Readings below the receiver's floor never arrive: far away only the upper tail
    # is heard, which flattens a plain fit of the exponent.
    layout = small_store()
    rng = np.random.default_rng(seed)
    rows = 40_000
    xy = rng.uniform([0.5, 0.5], [19.5, 11.5], (rows, 2))
    beacon = rng.integers(0, len(layout.beacons), rows)
    d = distance_m(xy, layout.beacon_xy, beacon_height_offsets_m(layout))[np.arange(rows), beacon]
    rssi = layout.tx_power_dbm[beacon] - 10.0 * exponent * np.log10(d) + rng.normal(0, 5.0, rows)
    floor = float(np.median(rssi))  # half the readings lost
    heard = rssi >= floor
    args = (
        rssi[heard],
        layout.tx_power_dbm[beacon[heard]],
        beacon[heard],
        np.zeros(int(heard.sum()), dtype=np.int64),
        np.log10(d[heard]),
        9,
        2.0,
        SelfCalParams(),
    )
    return args, floor


@pytest.mark.parametrize("exponent", [1.7, 2.7, 3.3])
def test_truncated_fit_recovers_the_exponent_from_readings_above_the_floor(
    exponent: float,
) -> None:
    args, floor = _truncated_rows(exponent, 4)
    plain = fit_radio_model(*args).exponent
    truncated = fit_radio_model(*args, floor_dbm=floor).exponent
    assert plain < exponent - 0.25  # the bias this guards against
    assert abs(truncated - exponent) < 0.1


def test_truncated_fit_changes_nothing_where_no_reading_is_near_the_floor() -> None:
    args, floor = _truncated_rows(2.7, 5)
    low = fit_radio_model(*args[:-1], SelfCalParams(), floor_dbm=floor - 60.0).exponent
    assert abs(low - fit_radio_model(*args).exponent) < 0.01


def test_inverse_mills_gives_the_truncated_normal_moments() -> None:
    z = np.linspace(-12.0, 12.0, 200_001)
    density = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    for alpha in (-3.0, -1.0, 0.0, 1.0, 4.0):
        kept = z > -alpha  # readings above the floor, mean 0 and floor -alpha spreads
        p = np.trapezoid(density[kept], z[kept])
        mean = np.trapezoid(z[kept] * density[kept], z[kept]) / p
        var = np.trapezoid((z[kept] - mean) ** 2 * density[kept], z[kept]) / p
        lam, delta = inverse_mills(np.array(alpha))
        assert np.isclose(lam, mean, atol=1e-3)
        assert np.isclose(1.0 - delta, var, atol=1e-3)


@pytest.mark.parametrize("truncated", [True, False])
def test_online_calibrator_fits_the_exponent_through_the_floor(truncated: bool) -> None:
    # Fixes at known points, readings below -85 dBm lost: only the truncated fit finds 3.0.
    layout = small_store()
    rng = np.random.default_rng(6)
    params = SelfCalParams(refit_every_s=5.0, min_rows=200, truncated_fit=truncated)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    for t in range(300):
        xy = rng.uniform([1, 1], [19, 11], (4, 2))
        d = distance_m(xy, layout.beacon_xy, np.sqrt(h2))
        rssi = layout.tx_power_dbm - 30 * np.log10(d) + rng.normal(0, 4.0, d.shape)
        heard = rssi >= -85.0
        cal.add(
            float(t),
            np.arange(4),
            np.where(heard, rssi, np.nan),
            heard.astype(np.int64),
            xy,
            np.full(4, 0.5),
            layout.beacon_xy,
            layout.tx_power_dbm,
            h2,
        )
    assert cal.floor_dbm is not None and -86.0 <= cal.floor_dbm <= -84.0
    if truncated:
        assert abs(cal.exponent - 3.0) < 0.15
    else:
        assert cal.exponent < 2.5


def test_online_calibrator_learns_the_floor_from_the_readings() -> None:
    cal = SelfCalibrator(2, 2.0, SelfCalParams(min_rows=10**9))
    rng = np.random.default_rng(5)
    rssi = rng.uniform(-94.0, -50.0, (3000, 2))
    rssi[:, 1] = np.nan
    count = np.where(np.isnan(rssi), 0, 1)
    xy = np.full((3000, 2), 5.0)
    cal.add(0.0, np.arange(3000), rssi, count, xy, np.zeros(3000), np.zeros((2, 2)), np.zeros(2))
    assert cal.floor_dbm is not None and -94.0 <= cal.floor_dbm <= -93.0
