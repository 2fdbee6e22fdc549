"""Calibration recovers known radio parameters from simulated recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from positioning.calibration import fit_walk, one_metre_power
from positioning.errors import CalibrationError
from positioning.layout import load_layout


def simulated_walk(
    layout_path: Path,
    exponent: float,
    offsets: np.ndarray,
    seed: int,
    outlier_rate: float = 0.05,
    outlier_db: float = 15.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recordings on a grid of points: Gaussian 4 dB noise plus body-shadow outliers."""
    layout = load_layout(layout_path)
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(
        np.linspace(1, layout.width_m - 1, 8), np.linspace(1, layout.height_m - 1, 6)
    )
    pts = np.repeat(np.column_stack([gx.ravel(), gy.ravel()]), 10, axis=0)  # 10 samples a point
    pts = np.repeat(pts, len(layout.beacons), axis=0)
    bi = np.tile(np.arange(len(layout.beacons)), len(pts) // len(layout.beacons))
    d = np.maximum(np.linalg.norm(pts - layout.beacon_xy[bi], axis=1), 0.5)
    rssi = layout.tx_power_dbm[bi] + offsets[bi] - 10 * exponent * np.log10(d)
    rssi += rng.normal(0, 4.0, len(rssi))
    rssi -= outlier_db * (rng.random(len(rssi)) < outlier_rate)
    return pts, bi, rssi


@pytest.mark.parametrize(("exponent", "seed"), [(2.0, 1), (2.6, 2), (3.1, 3)])
def test_walk_fit_recovers_exponent_and_offsets(
    showroom_path: Path, exponent: float, seed: int
) -> None:
    layout = load_layout(showroom_path)
    offsets = np.array([3.0, -4.0, 0.0, 5.0, -2.0])
    pts, bi, rssi = simulated_walk(showroom_path, exponent, offsets, seed)
    fit = fit_walk(pts, bi, rssi, layout.beacon_xy, layout.tx_power_dbm, layout.beacon_ids)
    assert fit.exponent == pytest.approx(exponent, abs=0.12)
    got = np.array([b.offset_db for b in fit.beacons])
    assert np.max(np.abs(got - offsets)) < 1.2
    assert fit.residual_sigma_db == pytest.approx(4.0, abs=0.7)
    assert sum(b.outliers for b in fit.beacons) > 0
    assert fit.power_1m_dbm()["s4"] == pytest.approx(-59 + 5.0, abs=1.2)


def test_robust_fit_beats_least_squares_under_outliers(showroom_path: Path) -> None:
    layout = load_layout(showroom_path)
    pts, bi, rssi = simulated_walk(
        showroom_path, 2.2, np.zeros(5), 5, outlier_rate=0.2, outlier_db=25
    )
    fit = fit_walk(pts, bi, rssi, layout.beacon_xy, layout.tx_power_dbm, layout.beacon_ids)
    robust_bias = abs(float(np.mean([b.offset_db for b in fit.beacons])))
    # Baseline: plain least squares on the same linear model, no weights, no prior.
    d = np.maximum(np.linalg.norm(pts - layout.beacon_xy[bi], axis=1), 0.5)
    design = np.zeros((len(bi), 6))
    design[:, 0] = -10 * np.log10(d)
    design[np.arange(len(bi)), 1 + bi] = 1.0
    theta = np.linalg.lstsq(design, rssi - layout.tx_power_dbm[bi], rcond=None)[0]
    ls_bias = abs(float(np.mean(theta[1:])))
    assert ls_bias > 3.0  # 20 % of rows 25 dB low pull plain LS down by several dB
    assert robust_bias < 0.25 * ls_bias


def test_a_barely_heard_beacon_stays_near_its_declared_power(showroom_path: Path) -> None:
    layout = load_layout(showroom_path)
    pts, bi, rssi = simulated_walk(showroom_path, 2.0, np.zeros(5), seed=9)
    keep = (bi != 4) | (np.arange(len(bi)) < 10)  # beacon s5: only a couple of rows
    keep &= ~((bi == 4) & (rssi > -200))
    keep |= (bi == 4) & (np.arange(len(bi)) % 997 == 4)
    fit = fit_walk(
        pts[keep], bi[keep], rssi[keep], layout.beacon_xy, layout.tx_power_dbm, layout.beacon_ids
    )
    s5 = fit.beacons[4]
    assert s5.n_rows < 5 and abs(s5.offset_db) < 4.0


def test_walk_needs_a_spread_of_distances(showroom_path: Path) -> None:
    layout = load_layout(showroom_path)
    pts = np.tile(layout.beacon_xy[0] + [1.0, 0.0], (20, 1))
    with pytest.raises(CalibrationError, match="spread of distances"):
        fit_walk(
            pts,
            np.zeros(20, int),
            np.full(20, -60.0),
            layout.beacon_xy,
            layout.tx_power_dbm,
            layout.beacon_ids,
        )


def test_one_metre_power_from_samples_at_two_metres() -> None:
    rng = np.random.default_rng(3)
    true_p1, n = -61.0, 2.0
    samples = true_p1 - 10 * n * np.log10(2.0) + rng.normal(0, 3.0, 300)
    samples[:30] -= 20.0  # someone walked between phone and beacon
    result = one_metre_power(samples, 2.0, n)
    assert result.power_dbm == pytest.approx(true_p1, abs=1.0)
    assert result.n_samples == 300 and 2.0 < result.spread_db < 4.5


def test_one_metre_power_needs_samples() -> None:
    with pytest.raises(CalibrationError, match="only 2"):
        one_metre_power([-60.0, -61.0], 1.0, 2.0)
