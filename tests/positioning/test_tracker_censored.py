"""Censored rows in the self-calibration fit (issue 16 phase 4): beacons not heard at a fix
carry information about the exponent that the heard readings alone lose under the floor."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store
from test_selfcal import _readings

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.tracker.radiofit import SelfCalParams, fit_radio_model
from positioning.tracker.selfcal import SelfCalibrator

FLOOR_DBM = -85.0
MISS_RATE = 0.1


def _fits(seed: int) -> tuple[float, float]:
    """The exponent fitted from the heard rows only, and with the unheard ones censored, on
    readings of a true exponent 3.0 cut at ``FLOOR_DBM``, 10 % of them lost by the scan."""
    beacon_off = np.array([3.0, -2.0, 0.0, 1.0, -4.0, 2.0, 0.0, -1.0, 1.0])
    layout, _, beacon, device, d, rssi = _readings(seed, 3.0, beacon_off, np.zeros(1), 20_000)
    rng = np.random.default_rng(seed + 1)
    heard = (rssi > FLOOR_DBM) & (rng.random(len(rssi)) >= MISS_RATE)
    declared = layout.tx_power_dbm[beacon]
    params = SelfCalParams(iterations=30)
    plain = fit_radio_model(
        rssi[heard], declared[heard], beacon[heard], device[heard], np.log10(d[heard]), 9, 2.0,
        params,
    )  # fmt: skip
    censored = fit_radio_model(
        np.where(heard, rssi, FLOOR_DBM), declared, beacon, device, np.log10(d), 9, 2.0, params,
        censored=~heard, miss_rate=MISS_RATE,
    )  # fmt: skip
    return plain.exponent, censored.exponent


def test_unheard_rows_remove_the_floor_bias_of_the_exponent() -> None:
    for seed in (0, 1):
        plain, censored = _fits(seed)
        assert plain < 2.8  # the weak readings lost under the floor flatten the plain fit
        assert abs(censored - 3.0) < 0.15


def test_rows_missed_by_the_scan_alone_leave_the_fit_unchanged() -> None:
    """Far above the floor, a row not heard can only be a missed scan: it weighs nothing."""
    beacon_off = np.zeros(9)
    layout, _, beacon, device, d, rssi = _readings(2, 2.0, beacon_off, np.zeros(1), 5_000)
    declared = layout.tx_power_dbm[beacon]
    log10_d, params = np.log10(d), SelfCalParams(iterations=10)
    lost = np.zeros(len(rssi), dtype=bool)
    lost[::10] = True
    kept = ~lost
    base = fit_radio_model(
        rssi[kept], declared[kept], beacon[kept], device[kept], log10_d[kept], 9, 2.0, params
    )
    floor = np.full(len(rssi), -200.0)  # a floor no reading comes near
    with_lost = fit_radio_model(
        np.where(lost, floor, rssi), declared, beacon, device, log10_d, 9, 2.0, params,
        censored=lost, miss_rate=0.1,
    )  # fmt: skip
    assert abs(with_lost.exponent - base.exponent) < 1e-6


def _online_exponent(censored_fit: bool) -> float:
    """The online calibrator fed epochs at true fixes of readings of exponent 3.0 cut at
    ``FLOOR_DBM``: beacons under it are not heard (count 0)."""
    layout = small_store()
    rng = np.random.default_rng(4)
    params = SelfCalParams(refit_every_s=5.0, min_rows=100, censored_fit=censored_fit)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    for t in range(300):
        xy = rng.uniform([1, 1], [19, 11], (4, 2))
        d = distance_m(xy, layout.beacon_xy, np.sqrt(h2))
        rssi = layout.tx_power_dbm - 30.0 * np.log10(d) + rng.normal(0, 3.0, d.shape)
        count = (rssi > FLOOR_DBM).astype(np.int64)
        rssi = np.where(count > 0, rssi, np.nan)
        xs = (np.arange(4), rssi, count, xy, np.full(4, 0.5), layout.beacon_xy)
        cal.add(float(t), *xs, layout.tx_power_dbm, h2)
    return cal.exponent


def test_the_online_calibrator_keeps_unheard_beacons_as_censored_rows() -> None:
    plain, censored = _online_exponent(False), _online_exponent(True)
    assert plain < 2.8
    assert abs(censored - 3.0) < abs(plain - 3.0) - 0.2


def _online(
    params: SelfCalParams, exponent: float, floor_dbm: float, miss: float
) -> SelfCalibrator:
    """The online calibrator fed 300 epochs at true fixes: readings of ``exponent`` with 3 dB
    shadowing, lost under ``floor_dbm`` and at random with probability ``miss``."""
    layout = small_store()
    rng = np.random.default_rng(5)
    cal = SelfCalibrator(9, 2.0, params)
    cal.miss_rate = miss  # what the detection model would have found
    h2 = beacon_height_offsets_m(layout) ** 2
    for t in range(300):
        xy = rng.uniform([1, 1], [19, 11], (4, 2))
        d = distance_m(xy, layout.beacon_xy, np.sqrt(h2))
        rssi = layout.tx_power_dbm - 10 * exponent * np.log10(d) + rng.normal(0, 3.0, d.shape)
        count = ((rssi > floor_dbm) & (rng.random(d.shape) >= miss)).astype(np.int64)
        rssi = np.where(count > 0, rssi, np.nan)
        xs = (np.arange(4), rssi, count, xy, np.full(4, 0.5), layout.beacon_xy)
        cal.add(float(t), *xs, layout.tx_power_dbm, h2)
    return cal


def test_the_gate_takes_the_censored_rows_where_the_floor_flattens_the_fit() -> None:
    gated = SelfCalParams(refit_every_s=5.0, min_rows=100, censored_fit=True, censored_gate=1.2)
    cal = _online(gated, 3.0, FLOOR_DBM, 0.1)
    plain = _online(SelfCalParams(refit_every_s=5.0, min_rows=100), 3.0, FLOOR_DBM, 0.1)
    assert cal.unheard_ratio > 1.2  # more beacons unheard than the flattened fit expects
    assert abs(cal.exponent - 3.0) < abs(plain.exponent - 3.0) - 0.2


def test_the_gate_keeps_the_plain_fit_where_it_explains_the_misses() -> None:
    """Only random scan misses: the plain fit expects as many beacons unheard as there are."""
    gated = SelfCalParams(refit_every_s=5.0, min_rows=100, censored_fit=True, censored_gate=1.2)
    cal = _online(gated, 2.0, -120.0, 0.1)
    plain = _online(SelfCalParams(refit_every_s=5.0, min_rows=100), 2.0, -120.0, 0.1)
    assert 0.8 < cal.unheard_ratio < 1.2
    assert abs(cal.exponent - plain.exponent) < 0.01  # refits fall at other times: not equal


def test_censored_rows_at_a_lower_weight_move_the_exponent_part_way() -> None:
    base = {"refit_every_s": 5.0, "min_rows": 100, "censored_fit": True}
    full = _online(SelfCalParams(**base), 3.0, FLOOR_DBM, 0.1).exponent
    part = _online(SelfCalParams(**base, censored_weight=0.5), 3.0, FLOOR_DBM, 0.1).exponent
    plain = _online(SelfCalParams(refit_every_s=5.0, min_rows=100), 3.0, FLOOR_DBM, 0.1).exponent
    assert plain + 0.05 < part < full - 0.05
