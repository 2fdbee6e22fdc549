"""Log-distance model, detection model and obstacle maps."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store

from positioning.pathloss import (
    MIN_DISTANCE_M,
    distance_from_rssi,
    rssi_at_distance,
    rssi_gradient_wrt_position,
)
from positioning.tracker.detection import DetectionModel
from positioning.tracker.radiomap import RadioMaps
from positioning.walkable import WalkableGrid


def test_rssi_and_distance_are_inverse_and_clamped() -> None:
    d = np.array([0.1, 1.0, 2.0, 10.0, 30.0])
    r = rssi_at_distance(d, -59.0, 2.5)
    assert r[1] == -59.0 and np.isclose(r[3], -84.0)
    back = distance_from_rssi(r, -59.0, 2.5)
    assert np.allclose(back, np.maximum(d, MIN_DISTANCE_M))


def test_gradient_matches_finite_differences() -> None:
    beacons = np.array([[0.0, 0.0], [5.0, 1.0]])
    p = np.array([2.0, 3.0])
    g = rssi_gradient_wrt_position(p, beacons, 2.2, height_offset_m=1.0)
    h = 1e-5
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h

        def f(q: np.ndarray) -> np.ndarray:
            d = np.sqrt(((q - beacons) ** 2).sum(axis=1) + 1.0)
            return rssi_at_distance(d, -59.0, 2.2)

        assert np.allclose(g[:, axis], (f(p + step) - f(p - step)) / (2 * h), atol=1e-6)


def test_detection_model_learns_floor_and_miss_rate() -> None:
    det = DetectionModel()
    assert det.sensitivity_dbm == -100.0
    rng = np.random.default_rng(0)
    det.add_readings(rng.uniform(-95.0, -40.0, 5000))
    assert -96.0 <= det.sensitivity_dbm <= -94.0
    predicted = np.full((1000, 4), -60.0)
    heard = rng.random((1000, 4)) > 0.1
    det.add_epoch(predicted, heard)
    assert abs(det.miss_rate - 0.1) < 0.02


def test_obstacle_crossings_counted_through_the_shelf() -> None:
    layout = small_store()  # shelf 6..14 x 4..5, beacon 7 ("7") at (10, 11), beacon 2 at (10, 1)
    grid = WalkableGrid.from_layout(layout)
    maps = RadioMaps.build(layout, grid, np.zeros(len(layout.beacons)))
    ix, iy = grid.cell_of([[10.1, 2.1]])
    cell = int(iy[0] * grid.free.shape[1] + ix[0])
    assert maps.crossings[6 * maps.cells + cell] == 1  # beacon (10, 11): across the shelf
    assert maps.crossings[1 * maps.cells + cell] == 0  # beacon (10, 1): same side
