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
