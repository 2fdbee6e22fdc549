"""The self-calibration's distance gate over the particle cloud (issue 16, session 27)."""

from __future__ import annotations

import numpy as np
import pytest
from locators_synth import small_store

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.tracker.cloudgate import cloud_distance
from positioning.tracker.radiofit import SelfCalParams
from positioning.tracker.selfcal import SelfCalibrator


def test_share_and_mean_log_distance_count_the_particles_beyond_the_gate() -> None:
    beacon = np.array([[0.0, 0.0]])
    # one cloud: 3 particles 1 m from the beacon, 1 at 5 m (weights unnormalised);
    # another wholly within the gate
    pos = np.array([[[1, 0], [0, 1], [-1, 0], [5, 0]], [[1, 0], [0, 1], [-1, 0], [0, -1]]])
    w = np.array([[2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    share, log10_d = cloud_distance(pos.astype(np.float32), w, beacon, 0.0, 2.0)
    assert share[0, 0] == pytest.approx(0.25)
    assert log10_d[0, 0] == pytest.approx(np.log10(5.0), abs=1e-6)
    assert share[1, 0] == 0.0 and np.isnan(log10_d[1, 0])
    # no gate: the mean of log10 d over the whole cloud, not log10 d at the cloud's mean
    share, log10_d = cloud_distance(pos[:1].astype(np.float32), w[:1], beacon, 0.0, 0.0)
    assert share[0, 0] == pytest.approx(1.0)
    assert log10_d[0, 0] == pytest.approx(np.log10(5.0) / 4, abs=1e-6)


def _centre_offset(cloud_gate: bool) -> float:
    # Walkers all over the store at their true spots fit the offsets; one phone stands 1 m
    # from the centre beacon while its fix sits 2.5 m away (2.4 m with the height: the fix's gate lets it in) in a cloud
    # that reaches the beacon. Its loud readings, put at 2.5 m, make that beacon louder.
    layout = small_store()
    rng = np.random.default_rng(11)
    params = SelfCalParams(refit_every_s=5.0, min_rows=100, cloud_gate=cloud_gate)
    cal = SelfCalibrator(len(layout.beacons), 2.0, params)
    h = beacon_height_offsets_m(layout)
    b0 = layout.beacon_xy[8]
    true_xy = b0 + np.array([0.0, 1.0])
    fix_xy = b0 + np.array([0.0, 2.2])
    for t in range(200):
        walkers = rng.uniform([1, 1], [19, 11], (3, 2))
        xy = np.vstack([walkers, true_xy])
        fixes = np.vstack([walkers, fix_xy])
        d = distance_m(xy, layout.beacon_xy, h)
        rssi = layout.tx_power_dbm - 20 * np.log10(d) + rng.normal(0, 2.0, d.shape)
        spread = np.array([0.2, 0.2, 0.2, 1.5])[:, None, None]
        cloud = fixes[:, None, :] + rng.normal(0, 1.0, (4, 64, 2)) * spread
        cal.add(
            float(t),
            np.arange(4),
            rssi,
            np.ones_like(rssi, dtype=np.int64),
            fixes,
            np.full(4, 0.5),
            layout.beacon_xy,
            layout.tx_power_dbm,
            h**2,
            cloud=(cloud.astype(np.float32), np.ones((4, 64), dtype=np.float32), np.ones(4)),
        )
    return float(cal.beacon_offset_db[8])


def test_a_cloud_that_reaches_the_beacon_bends_its_offset_less() -> None:
    plain, gated = _centre_offset(False), _centre_offset(True)
    assert plain > 0.5
    assert gated < plain - 0.1  # the cloud's share beyond the gate: about 2/3 here
