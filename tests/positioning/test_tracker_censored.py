"""Censored rows in the self-calibration fit (issue 16 phase 4): beacons not heard at a fix
carry information about the exponent that the heard readings alone lose under the floor."""

from __future__ import annotations

import numpy as np
from test_selfcal import _readings

from positioning.tracker.radiofit import SelfCalParams, fit_radio_model

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
    args = (beacon, device, np.log10(d), 9, 2.0, SelfCalParams(iterations=10))
    declared = layout.tx_power_dbm[beacon]
    lost = np.zeros(len(rssi), dtype=bool)
    lost[::10] = True
    base = fit_radio_model(rssi[~lost], declared[~lost], *(a[~lost] for a in args[:3]), *args[3:])
    floor = np.full(len(rssi), -200.0)  # a floor no reading comes near
    with_lost = fit_radio_model(
        np.where(lost, floor, rssi), declared, *args, censored=lost, miss_rate=0.1
    )
    assert abs(with_lost.exponent - base.exponent) < 1e-6
