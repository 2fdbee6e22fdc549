"""Self-calibration: the robust fit recovers the radio model from data."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.selfcal import (
    SelfCalibrator,
    SelfCalParams,
    calibrate_at_known_points,
    fit_radio_model,
)


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
        cal.add(
            float(t),
            np.array([0, 1]),
            rssi,
            np.ones_like(rssi, dtype=np.int64),
            xy,
            np.full(2, 0.5),
            layout.beacon_xy,
            layout.tx_power_dbm,
            h2,
        )
    mean, sigma = cal.device_prior(np.array([0, 1, 7]), 6.0)
    assert mean[0] > 4.0 and mean[1] < -4.0 and mean[2] == 0.0
    assert sigma[0] < 6.0 and sigma[2] == 6.0
    assert abs(cal.exponent - 2.0) < 0.2


def test_floor_keeps_the_exponent_unbiased_by_readings_lost_below_it() -> None:
    # Readings below the receiver's floor never arrive: far away only the upper tail
    # is heard, which flattens a plain fit of the exponent.
    layout = small_store()
    rng = np.random.default_rng(4)
    rows = 40_000
    xy = rng.uniform([0.5, 0.5], [19.5, 11.5], (rows, 2))
    beacon = rng.integers(0, len(layout.beacons), rows)
    d = distance_m(xy, layout.beacon_xy, beacon_height_offsets_m(layout))[np.arange(rows), beacon]
    rssi = layout.tx_power_dbm[beacon] - 27.0 * np.log10(d) + rng.normal(0.0, 5.0, rows)
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
    )
    plain = fit_radio_model(*args, SelfCalParams(), floor_dbm=floor).exponent  # margin 0: off
    half = fit_radio_model(*args, SelfCalParams(floor_margin_sigmas=0.5), floor_dbm=floor)
    clear = fit_radio_model(*args, SelfCalParams(floor_margin_sigmas=2.0), floor_dbm=floor)
    assert plain < 2.0  # the bias this guards against
    assert half.exponent > plain + 0.2  # half a spread removes part of it
    assert abs(clear.exponent - 2.7) < 0.15  # rows well clear of the floor: unbiased


def test_online_calibrator_learns_the_floor_from_the_readings() -> None:
    cal = SelfCalibrator(2, 2.0, SelfCalParams(min_rows=10**9))
    rng = np.random.default_rng(5)
    rssi = rng.uniform(-94.0, -50.0, (3000, 2))
    rssi[:, 1] = np.nan
    count = np.where(np.isnan(rssi), 0, 1)
    xy = np.full((3000, 2), 5.0)
    cal.add(0.0, np.arange(3000), rssi, count, xy, np.zeros(3000), np.zeros((2, 2)), np.zeros(2))
    assert cal.floor_dbm is not None and -94.0 <= cal.floor_dbm <= -93.0
