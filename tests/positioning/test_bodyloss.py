"""Body loss self-calibration: walkers' residuals tell a body's loss from a trailing fix."""

from __future__ import annotations

import numpy as np
import pytest
from locators_synth import merge, observe_path, small_store

from positioning.tracker.filter import ParticleTracker
from positioning.tracker.radiofit import SelfCalParams, fit_body_loss


def _walkers(seed: int, body_db: float, lag_m: float, rows: int = 4000):
    """Residuals of walkers' rows: body loss by heading, plus a fix ``lag_m`` behind."""
    rng = np.random.default_rng(seed)
    cos = rng.uniform(-1.0, 1.0, rows)
    d = rng.uniform(2.0, 15.0, rows)
    exponent = 2.0
    residual = (
        body_db * 0.5 * cos
        + 10.0 * exponent * lag_m / np.log(10.0) * cos / d
        + rng.normal(0.0, 4.0, rows)
        + 1.5  # the mean body loss and offsets, removed by the fit's centring
    )
    return residual, np.ones(rows), cos, d


@pytest.mark.parametrize(("body_db", "lag_m"), [(0.0, 0.0), (0.0, 1.0), (3.0, 0.0), (2.0, 1.0)])
def test_body_loss_is_told_apart_from_a_trailing_fix(body_db: float, lag_m: float) -> None:
    residual, w, cos, d = _walkers(1, body_db, lag_m)
    got = fit_body_loss(residual, w, cos, d, 4.0, SelfCalParams())
    assert got == pytest.approx(body_db, abs=0.6)


def test_a_lag_alone_would_pass_for_body_loss_without_the_nuisance_term() -> None:
    # what the distance term is for: ignoring it, a 1 m lag reads as several dB of body loss
    residual, w, cos, d = _walkers(2, 0.0, 1.0)
    naive = np.polyfit(0.5 * cos, residual, 1)[0]
    assert naive > 2.0
    assert fit_body_loss(residual, w, cos, d, 4.0, SelfCalParams()) < 1.0


def test_body_loss_stays_between_zero_and_its_prior() -> None:
    residual, w, cos, d = _walkers(3, 9.0, 0.0)
    assert fit_body_loss(residual, w, cos, d, 4.0, SelfCalParams()) == 4.0
    residual, w, cos, d = _walkers(4, -5.0, 0.0)
    assert fit_body_loss(residual, w, cos, d, 4.0, SelfCalParams()) == 0.0


def test_few_rows_stay_near_the_prior() -> None:
    residual, w, cos, d = _walkers(5, 0.0, 0.0, rows=30)
    assert fit_body_loss(residual, w, cos, d, 4.0, SelfCalParams()) > 2.5


def _loop(t_s: np.ndarray, phase: float) -> np.ndarray:
    """A walk round the store's shelf at about 1 m/s."""
    a = t_s / 6.0 + phase
    return np.column_stack([10.0 + 7.0 * np.cos(a), 6.0 + 4.0 * np.sin(a)])


def _no_body_day(seconds: float = 300.0):
    layout = small_store()
    rng = np.random.default_rng(7)
    t = np.arange(0.0, seconds, 0.25)
    parts = [observe_path(layout, f"w{i}", t, _loop(t, 2.0 * i), rng) for i in range(3)]
    still = np.tile([4.0, 9.0], (len(t), 1))
    parts.append(observe_path(layout, "still", t, still, rng, offset_db=3.0))
    return layout, merge(*parts)


def _still_error(fit_body: bool) -> tuple[float, float]:
    layout, batch = _no_body_day()
    tracker = ParticleTracker(
        layout, seed=0, learn_radio_map=False, selfcal=SelfCalParams(fit_body_loss=fit_body)
    )
    errors = []
    for t in np.arange(1.0, float(batch.t_s.max()), 1.0):
        tracker.observe(batch.take(np.flatnonzero((batch.t_s > t - 1.0) & (batch.t_s <= t))))
        fix = tracker.estimate(float(t))
        if t > 120.0 and "still" in fix.device_id:
            xy = fix.xy_m[list(fix.device_id).index("still")]
            errors.append(float(np.hypot(xy[0] - 4.0, xy[1] - 9.0)))
    return float(np.median(errors)), tracker.calibration.body_loss_db


def test_tracker_finds_no_body_where_there_is_none_and_stops_misplacing_a_still_device() -> None:
    fitted_error, fitted_body = _still_error(fit_body=True)
    prior_error, prior_body = _still_error(fit_body=False)
    assert prior_body == 4.0
    assert fitted_body < 1.5
    assert fitted_error < 0.6
    assert fitted_error < prior_error - 0.2


def _alone_error(standing_body_after_rows: float) -> float:
    """A phone left alone at one spot, no body and nobody walking: median error after 1 min."""
    layout = small_store()
    rng = np.random.default_rng(11)
    t = np.arange(0.0, 240.0, 0.25)
    batch = observe_path(layout, "still", t, np.tile([4.0, 9.0], (len(t), 1)), rng)
    tracker = ParticleTracker(layout, seed=0, standing_body_after_rows=standing_body_after_rows)
    errors = []
    for ts in np.arange(1.0, 240.0, 1.0):
        tracker.observe(batch.take(np.flatnonzero((batch.t_s > ts - 1.0) & (batch.t_s <= ts))))
        fix = tracker.estimate(float(ts))
        if ts > 60.0 and len(fix):
            errors.append(float(np.hypot(fix.xy_m[0, 0] - 4.0, fix.xy_m[0, 1] - 9.0)))
    assert tracker.calibration.walker_rows < 400  # nobody walked: no evidence of a body
    return float(np.median(errors))


def test_a_phone_alone_on_a_stand_is_not_given_a_body_until_walkers_show_one() -> None:
    waits = _alone_error(400.0)  # the default: standing particles get no body side yet
    always = _alone_error(0.0)  # the 4 dB prior on every standing particle's heading
    assert waits < 0.8  # measured 0.62 m
    assert waits < always - 0.5  # 4 dB on every standing heading: 1.61 m
