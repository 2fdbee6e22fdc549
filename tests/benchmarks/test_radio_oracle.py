"""The oracle radio's pieces: readings at the truth, the kept parts, the still device's optimum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from beacons.observation import ObservationBatch
from benchmarks.radio_oracle import keep_parts, readings_at_truth, static_fix, truth_calibration
from benchmarks.scenes import RECORDINGS, Scene, load_scene
from positioning.pathloss import beacon_height_offsets_m
from positioning.tracker.selfcal import RadioCalibration

ESPRESENSE = RECORDINGS / "espresense-stationary"


def _scene(
    rows: list[tuple[float, str, str, float]], truth: list[tuple[float, str, float, float]]
) -> Scene:
    base = load_scene(ESPRESENSE)
    t, device, beacon, rssi = (np.array(c) for c in zip(*rows, strict=True))
    batch = ObservationBatch(
        t.astype(float), device.astype(str), beacon.astype(str), rssi.astype(float)
    )
    frame = pd.DataFrame(truth, columns=["t", "device_id", "x", "y"])
    return dataclasses.replace(base, batch=batch, truth=frame)


def test_readings_take_each_device_truth_in_time_and_drop_the_rest() -> None:
    truth = [
        (0.0, "a", 0.0, 0.0),
        (10.0, "a", 10.0, 0.0),
        (0.0, "b", 5.0, 5.0),
        (4.0, "b", 5.0, 9.0),
    ]
    rows = [
        (2.5, "a", "office", -60.0),  # a at (2.5, 0)
        (2.0, "b", "master", -70.0),  # b at (5, 7)
        (11.0, "a", "office", -61.0),  # after a's truth: dropped
        (1.0, "c", "garage", -62.0),  # no truth at all: dropped
    ]
    beacon, rssi, xy = readings_at_truth(_scene(rows, truth))
    ids = load_scene(ESPRESENSE).layout.beacon_ids
    assert [ids[i] for i in beacon] == ["office", "master"]
    np.testing.assert_allclose(rssi, [-60.0, -70.0])
    np.testing.assert_allclose(xy, [[2.5, 0.0], [5.0, 7.0]])


def test_kept_parts_keep_the_exponent_and_replace_the_offsets() -> None:
    cal = RadioCalibration(1.7, np.array([1.0, 3.0, 8.0]), 4.0)
    assert keep_parts(cal, "all") is cal
    common = keep_parts(cal, "common")
    np.testing.assert_allclose(common.beacon_offset_db, [4.0, 4.0, 4.0])
    assert (common.exponent, common.obstacle_loss_db) == (1.7, 4.0)
    np.testing.assert_allclose(keep_parts(cal, "exponent").beacon_offset_db, 0.0)


def test_readings_made_by_the_model_give_its_point_and_its_exponent() -> None:
    layout = load_scene(ESPRESENSE).layout
    point = np.array([11.0, 6.0])
    d = np.hypot(np.hypot(*(point - layout.beacon_xy).T), beacon_height_offsets_m(layout))
    offset = 7.0  # the device's gain: profiled out by the optimum, a common offset in the fit
    rssi = layout.tx_power_dbm + offset - 25.0 * np.log10(d)
    rows = [
        (float(i), "w", b, float(r))
        for i in range(2000)
        for b, r in zip(layout.beacon_ids, rssi, strict=True)
    ]
    scene = _scene(rows, [(0.0, "w", *point), (2000.0, "w", *point)])
    np.testing.assert_allclose(static_fix(scene, 2.5), point, atol=0.06)
    assert np.hypot(*(static_fix(scene, 1.4) - point)) > 0.1
    cal = truth_calibration(scene)  # 18,000 rows outweigh the fit's ridge priors (300 and 30 rows)
    assert abs(cal.exponent - 2.5) < 0.05
    # the device's gain lands on every receiver alike (the fit has one device, no device term)
    np.testing.assert_allclose(cal.beacon_offset_db, offset, atol=1.0)
    assert np.ptp(cal.beacon_offset_db) < 0.5
