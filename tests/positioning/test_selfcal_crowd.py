"""The self-calibration's first fit comes sooner for a crowd (``crowd_min_rows``): rows from
many devices at many places price the walls; one still device's rows cannot."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.tracker.radiofit import SelfCalParams
from positioning.tracker.selfcal import SelfCalibrator


def _first_fit_s(params: SelfCalParams, devices: int) -> float | None:
    """Feed one epoch a second of ``devices`` devices, each at its own random spot, with 6 dB
    walls; the epoch of the first fit (None: none in 40 s)."""
    layout = small_store()
    rng = np.random.default_rng(3)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    spots = rng.uniform([1, 1], [19, 11], (devices, 2))
    for t in range(40):
        d = distance_m(spots, layout.beacon_xy, np.sqrt(h2))
        walls = rng.integers(0, 3, d.shape).astype(np.float64)
        rssi = layout.tx_power_dbm - 20.0 * np.log10(d) - 6.0 * walls + rng.normal(0, 2.0, d.shape)
        count = np.ones_like(rssi, dtype=np.int64)
        cal.add(float(t), np.arange(devices), rssi, count, spots, np.full(devices, 0.5),
                layout.beacon_xy, layout.tx_power_dbm, h2, walls)  # fmt: skip
        if cal.fits:
            return float(t)
    return None


def test_a_crowd_fits_sooner_and_a_lone_device_waits_for_min_rows() -> None:
    crowd = SelfCalParams(min_rows=400, crowd_min_rows=100, crowd_devices=5)
    plain = SelfCalParams(min_rows=400)
    # 8 devices x 9 beacons = 72 rows an epoch (a few fall under min_distance_m)
    crowd_fit = _first_fit_s(crowd, 8)
    plain_fit = _first_fit_s(plain, 8)
    assert crowd_fit is not None and plain_fit is not None
    assert crowd_fit <= 2.0 < plain_fit
    # one device: 9 rows an epoch; the crowd rule does not apply, min_rows (400) is not reached
    assert _first_fit_s(crowd, 1) is None
    # two devices, 18 rows an epoch: the plain 400 rows only (fewer than 5 devices)
    assert _first_fit_s(crowd, 2) == _first_fit_s(plain, 2)


def _second_fit_wall_db(params: SelfCalParams) -> tuple[float, int]:
    """8 devices behind 6 dB walls; until the first fit their fixes count no walls crossed (as
    fixes placed under a 0 dB start would sit where no wall is), after it the true crossings.
    The wall loss of the second fit, and the history's size right after the first."""
    layout = small_store()
    rng = np.random.default_rng(5)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    spots = rng.uniform([1, 1], [19, 11], (8, 2))
    size_after_first = -1
    for t in range(120):
        d = distance_m(spots, layout.beacon_xy, np.sqrt(h2))
        walls = rng.integers(0, 3, d.shape).astype(np.float64)
        rssi = layout.tx_power_dbm - 20.0 * np.log10(d) - 6.0 * walls + rng.normal(0, 2.0, d.shape)
        seen = walls if cal.fits else np.zeros_like(walls)
        cal.add(float(t), np.arange(8), rssi, np.ones_like(rssi, dtype=np.int64), spots,
                np.full(8, 0.5), layout.beacon_xy, layout.tx_power_dbm, h2, seen)  # fmt: skip
        if cal.fits == 1 and size_after_first < 0:
            size_after_first = cal._size
        if cal.fits == 2:
            return cal.obstacle_loss_db, size_after_first
    raise AssertionError("no second fit in 120 s")


def test_forgetting_the_start_rows_frees_the_walls_from_the_start() -> None:
    keep = SelfCalParams(min_rows=400)
    forget = SelfCalParams(min_rows=400, forget_start_rows=True)
    kept_db, kept_size = _second_fit_wall_db(keep)
    fresh_db, fresh_size = _second_fit_wall_db(forget)
    assert fresh_size == 0 < kept_size
    # the rows placed as if there were no walls pull the kept fit down; fresh rows alone
    # find the walls (the ridge still pulls both towards the 3 dB prior)
    assert fresh_db > kept_db + 0.4  # 5.35 against 4.73 dB
    assert fresh_db > 5.0
