"""The generated RSSI follows the radio model: path loss and shadowing correlation recovered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from positioning.layout import load_layout
from sim.fields import gaussian_field
from sim.params import RadioParams, SimConfig
from sim.radio import RadioModel, fade_table_db
from sim.run import build_world
from sim.stream import DayStream

START_S = 1_795_942_800.0  # 2026-11-28T09:00:00Z

#: Only the log-distance law, the per-beacon 1 m power and fast fading stay on.
PLAIN_RADIO = RadioParams(
    path_loss_exponent=2.4,
    shadowing_sigma_db=0.0,
    shelf_loss_db=0.0,
    wall_loss_db=0.0,
    counter_loss_db=0.0,
    pillar_loss_db=0.0,
    shopfront_loss_db=0.0,
    body_loss_db=0.0,
    device_offset_sigma_db=0.0,
)


def test_path_loss_fit_recovers_exponent_and_each_beacons_1m_power(fashion_path: Path) -> None:
    """Shadowing, obstacles, body and device offsets off; fast fading and packet loss on.

    Tolerances: exponent within 0.1, every beacon's 1 m power within 1.5 dB of the true
    (seeded, off-declared) value. Readings beyond 8 m are left out of the fit: there the
    sensitivity cut-off starts to truncate the fading distribution and biases any fit.
    """
    layout = load_layout(fashion_path)
    config = SimConfig(shoppers=12, duration_s=900.0, start_s=START_S, seed=3, radio=PLAIN_RADIO)
    world = build_world(layout, config)
    stream = DayStream(world.population, world.radio, layout, START_S, 900.0, 3, 5.0)
    t, dev, bcn, rssi = [], [], [], []
    for i, (c0, c1) in enumerate(stream.bounds()):
        rows = stream._observations(i, c0, c1)
        t.append(rows.t), dev.append(rows.device), bcn.append(rows.beacon), rssi.append(rows.rssi)
    tt, dd, bb = np.concatenate(t), np.concatenate(dev), np.concatenate(bcn)
    rr = np.concatenate(rssi).astype(float)
    xy, _ = world.population.trajectories.sample(dd, tt)
    xyz = world.radio.beacon_xyz[bb]
    d = np.sqrt(
        ((xy - xyz[:, :2]) ** 2).sum(axis=1) + (xyz[:, 2] - PLAIN_RADIO.device_height_m) ** 2
    )
    near = d < 8.0
    n_b = len(layout.beacons)
    design = np.zeros((near.sum(), n_b + 1))
    design[np.arange(near.sum()), bb[near]] = 1.0
    design[:, -1] = -10.0 * np.log10(d[near])
    coef, *_ = np.linalg.lstsq(design, rr[near], rcond=None)
    assert coef[-1] == pytest.approx(2.4, abs=0.1)
    np.testing.assert_allclose(coef[:n_b], world.radio.true_power_dbm, atol=1.5)
    # the true powers really are off the declared ones (so the fit is not trivially -59)
    assert np.abs(world.radio.true_power_dbm - layout.tx_power_dbm).max() > 1.0


def _correlation_length(field_rows: np.ndarray, step_m: float) -> float:
    """Lag (m) where the pooled autocorrelation along rows falls to 1/e, interpolated.

    The field's mean is known to be zero; subtracting each row's own mean would bias the
    length short (it removes the slow variations that make the correlation).
    """
    f = field_rows
    var = np.mean(f * f)
    lags = np.arange(1, f.shape[1] // 2)
    corr = np.asarray([np.mean(f[:, :-k] * f[:, k:]) / var for k in lags])
    below = int(np.argmax(corr < np.exp(-1)))
    k0, c0, c1 = lags[below - 1], corr[below - 1], corr[below]
    return float((k0 + (c0 - np.exp(-1)) / (c0 - c1)) * step_m)


def test_gaussian_field_has_unit_variance_and_the_asked_correlation_length() -> None:
    rng = np.random.default_rng(5)
    fields = np.concatenate([gaussian_field((160, 160), 0.25, 3.0, rng) for _ in range(6)])
    assert fields.std() == pytest.approx(1.0, abs=0.15)
    assert _correlation_length(fields, 0.25) == pytest.approx(3.0, rel=0.25)


def test_shadowing_in_the_rssi_has_the_configured_sigma_and_correlation_length(
    fashion_path: Path,
) -> None:
    """Mean RSSI (no fading) minus the path-loss law, along lines of the floor, all beacons."""
    layout = load_layout(fashion_path)
    params = dataclasses.replace(PLAIN_RADIO, shadowing_sigma_db=4.0, shadowing_corr_length_m=2.0)
    radio = RadioModel.build(
        layout,
        params,
        SimConfig(1, 1.0, 0.0, 0).scan,
        (-20.0, -20.0, 50.0, 40.0),
        np.random.default_rng(9),
    )
    xs = np.arange(-18.0, 48.0, 0.25)
    residual_rows = []
    for y in np.arange(-18.0, 38.0, 2.0):
        x = np.broadcast_to(xs, (len(layout.beacons), len(xs)))
        mean = radio.mean_rssi_dbm(x, np.full_like(x, y), np.zeros(len(xs)), np.zeros(len(xs)))
        d2 = (
            (radio.beacon_xyz[:, 0:1] - x) ** 2
            + (radio.beacon_xyz[:, 1:2] - y) ** 2
            + (radio.beacon_xyz[:, 2:3] - params.device_height_m) ** 2
        )
        law = radio.true_power_dbm[:, None] - 5.0 * 2.4 * np.log10(d2)
        residual_rows.append(law - np.asarray(mean, dtype=float))  # = shadowing loss
    rows = np.concatenate(residual_rows)
    assert rows.std() == pytest.approx(4.0, abs=0.8)
    assert _correlation_length(rows, 0.25) == pytest.approx(2.0, rel=0.3)


def test_fast_fading_is_zero_mean_in_db_with_occasional_deep_fades() -> None:
    table = fade_table_db(3.0)
    assert abs(float(table.mean())) < 1e-3
    deep = np.mean(table < -10.0)
    assert 0.005 < deep < 0.1


def test_receivers_topology_listens_longer_and_hears_more(fashion_path: Path) -> None:
    """Fixed receivers scan at 95 % duty: more reports per device-second than a phone at 25 %."""
    from sim.params import ScanParams

    layout = load_layout(fashion_path)
    counts = {}
    for topology in ("phone", "receivers"):
        config = SimConfig(
            shoppers=4,
            duration_s=300.0,
            start_s=START_S,
            seed=8,
            scan=ScanParams(topology=topology),
        )
        world = build_world(layout, config)
        stream = DayStream(world.population, world.radio, layout, START_S, 300.0, 8, 5.0)
        agent, _ = stream._windows(START_S, START_S + 300.0)
        rows = stream._observations(0, START_S, START_S + 300.0)
        counts[topology] = len(rows.t) / len(agent)
        assert world.config.scan.duty == (0.95 if topology == "receivers" else 0.25)
    assert counts["receivers"] > 1.05 * counts["phone"]
