"""Self-calibration checking itself (issue 16): a held exponent, a split-half check of the
fitted one, and a body loss that starts where the layout's evidence says."""

from __future__ import annotations

import numpy as np
from locators_synth import small_store
from test_selfcal import _feed, _readings

from positioning.pathloss import beacon_height_offsets_m, distance_m
from positioning.tracker.radiofit import SelfCalParams, fit_radio_model
from positioning.tracker.selfcal import SelfCalibrator


def test_a_held_exponent_is_kept_and_the_offsets_fitted_around_it() -> None:
    beacon_off = np.array([3.0, -2.0, 0.0, 1.0, -4.0, 2.0, 0.0, -1.0, 1.0])
    layout, _, beacon, device, d, rssi = _readings(0, 2.0, beacon_off, np.zeros(1), 20_000)
    args = (rssi, layout.tx_power_dbm[beacon], beacon, device, np.log10(d), 9, 2.6)
    free = fit_radio_model(*args, SelfCalParams(iterations=30))
    held = fit_radio_model(*args, SelfCalParams(iterations=30), fixed_exponent=2.0)
    assert abs(free.exponent - 2.0) < 0.1
    assert held.exponent == 2.0
    shift = np.mean(held.beacon_offset_db - beacon_off)
    assert np.abs(held.beacon_offset_db - beacon_off - shift).max() < 0.7


def _calibrator(fix_noise_m: float, spots: int, sd: float, seed: int) -> SelfCalibrator:
    """A phone left at ``spots`` places in turn, readings of a true exponent 2.6, its fixes
    off by a fixed error of ``fix_noise_m`` per spot (the wrong place of a still device)."""
    layout = small_store()
    rng = np.random.default_rng(seed)
    params = SelfCalParams(refit_every_s=5.0, min_rows=100, exponent_prior_sd=sd)
    cal = SelfCalibrator(9, 2.0, params)
    h2 = beacon_height_offsets_m(layout) ** 2
    t = 0.0
    for _ in range(spots):
        true_xy = rng.uniform([2, 2], [18, 10], (1, 2))
        fix_xy = np.clip(true_xy + rng.normal(0.0, fix_noise_m, 2), 0.5, [19.5, 11.5])
        d = distance_m(true_xy, layout.beacon_xy, np.sqrt(h2))
        for _ in range(60):
            rssi = layout.tx_power_dbm - 26.0 * np.log10(d) + rng.normal(0, 2.0, d.shape)
            _feed(cal, t, rssi, fix_xy, layout, h2)
            t += 1.0
    return cal


def test_the_split_half_check_keeps_an_exponent_the_data_agree_on() -> None:
    cal = _calibrator(0.0, 40, 0.4, 1)
    a, b = cal.exponent_split
    assert abs(a - b) < 0.2
    assert abs(cal.exponent - 2.6) < 0.2


def test_the_split_half_check_backs_off_when_the_halves_disagree() -> None:
    # a few spots, each fix metres off: each half of the history fits its own exponent
    shrunk = [_calibrator(3.0, 6, 0.4, seed) for seed in range(4)]
    plain = [_calibrator(3.0, 6, 0.0, seed) for seed in range(4)]
    for checked, unchecked in zip(shrunk, plain, strict=True):
        a, b = checked.exponent_split
        weight = 0.4**2 / (0.4**2 + ((a - b) / 2) ** 2)
        assert weight < 1.0
        assert abs(checked.exponent - 2.0) <= abs(unchecked.exponent - 2.0) + 1e-9


def test_the_body_loss_starts_where_it_is_told_and_may_grow_to_the_likelihoods() -> None:
    default = SelfCalibrator(9, 2.0, SelfCalParams(), prior_body_loss_db=4.0)
    assert default.body_loss_db == 4.0
    start = SelfCalibrator(9, 2.0, SelfCalParams(body_start_db=0.0), prior_body_loss_db=4.0)
    assert start.body_loss_db == 0.0
    assert start.max_body_loss_db == 4.0


def _walled(start_db: float | None) -> tuple[float, SelfCalibrator]:
    """A calibrator fed fixes whose walls take 6 dB each: its wall loss before any fit, and
    the calibrator after many fits."""
    layout = small_store()
    rng = np.random.default_rng(5)
    params = SelfCalParams(refit_every_s=5.0, min_rows=100, obstacle_start_db=start_db)
    cal = SelfCalibrator(9, 2.0, params)
    before = cal.obstacle_loss_db
    h2 = beacon_height_offsets_m(layout) ** 2
    for t in range(120):
        xy = rng.uniform([1, 1], [19, 11], (3, 2))
        d = distance_m(xy, layout.beacon_xy, np.sqrt(h2))
        walls = rng.integers(0, 3, d.shape).astype(np.float64)
        rssi = layout.tx_power_dbm - 20.0 * np.log10(d) - 6.0 * walls + rng.normal(0, 2.0, d.shape)
        count = np.ones_like(rssi, dtype=np.int64)
        sigma = np.full(len(xy), 0.5)
        cal.add(float(t), np.arange(3), rssi, count, xy, sigma, layout.beacon_xy,
                layout.tx_power_dbm, h2, walls)  # fmt: skip
    return before, cal


def test_the_wall_loss_starts_where_it_is_told_and_is_then_fitted() -> None:
    default_start, default = _walled(None)
    zero_start, zero = _walled(0.0)
    assert default_start == SelfCalParams().obstacle_loss_prior_db
    assert zero_start == 0.0
    assert default.fits > 5 and zero.fits == default.fits
    # the start is only a start: the data's 6 dB walls are found either way
    assert abs(zero.obstacle_loss_db - 6.0) < 0.7
    assert abs(zero.obstacle_loss_db - default.obstacle_loss_db) < 0.05
