"""The robust regression behind the self-calibration (:mod:`positioning.tracker.selfcal`).

    rssi = P_b + a_b + c_d - 10 n log10(d) - L x crossings

fitted by Huber-IRLS block descent (Huber, Ann. Math. Stat. 35, 1964; k = 1.345 gives
95 % Gaussian efficiency) with ridge priors on every block, and the body loss fitted
from walkers' residuals after it (:func:`fit_body_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr

from positioning.pathloss import EXPONENT_BOUNDS, MIN_DISTANCE_M
from positioning.tracker.detection import irls_step

__all__ = ["HUBER_K", "RadioFit", "SelfCalParams", "fit_body_loss", "fit_radio_model"]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Huber tuning constant, in robust standard deviations (Huber 1964; 95 % efficiency).
HUBER_K = 1.345


@dataclass(frozen=True, slots=True)
class SelfCalParams:
    """Knobs of the self-calibration (:mod:`positioning.tracker.selfcal`) and of the fit it runs;
    reasons in docs/positioning.md."""

    history_rows: int = 20_000  # ring buffer of (device, beacon, rssi, distance) rows
    refit_every_s: float = 20.0  # observation-clock seconds between fits
    min_rows: int = 400  # no fit before this much evidence
    # the first fit may come at crowd_min_rows rows (0: off) when they come from at least
    # crowd_devices devices: one still device cannot tell its place from the offsets (issue 16,
    # session 28), many devices at many places can, so a crowd prices the walls sooner
    crowd_min_rows: int = 0
    crowd_devices: int = 5
    max_fix_sigma_m: float = 2.0  # only fixes the tracker is sure of feed the fit
    min_distance_m: float = 2.0  # near a beacon a 1 m position error swamps log10(d)
    slope_prior_rows: float = 300.0  # ridge of the exponent's and obstacle loss's priors, rows
    obstacle_loss_prior_db: float = 3.0  # per crossing; COST 231 light wall 3.4 dB
    obstacle_loss_max_db: float = 10.0  # concrete wall (COST 231 heavy wall 6.9 dB) with margin
    # the obstacle loss, dB per crossing, the tracker uses before its first fit (the fit's
    # ridge still pulls to obstacle_loss_prior_db); None: the prior. An unfitted wall loss is
    # a guess, and a wrong one places a still device confidently wrong (issue 16, session 28)
    obstacle_start_db: float | None = None
    # at the first fit, empty the history (the fit keeps its values; the next fit waits for
    # enough fresh rows): its rows were taken at fixes placed under the start's guessed
    # model, and a fit on them finds what placed them; a quiet store keeps them for many
    # minutes (issue 16, session 30). Off: the history keeps them until overwritten
    forget_start_rows: bool = False
    fit_body_loss: bool = True  # a tag on a shelf or a phone on a tripod has no body behind it
    body_min_rows: int = 400  # walkers' rows before the body loss moves from its prior
    body_prior_rows: float = 300.0  # ridge towards the prior body loss, in walkers' rows
    # body loss, dB, before walkers' rows show it, and what the fit's ridge pulls to; None:
    # the likelihood's body loss (then also the most the fit may find)
    body_start_db: float | None = None
    offset_prior_rows: float = 30.0  # ridge weight pulling each offset to 0, in rows
    offset_bound_db: float = 12.0  # no beacon or phone is off its declared power by more
    calibrated_rows: int = 60  # rows after which a device's offset is trusted
    calibrated_offset_sigma_db: float = 2.5  # prior spread of a trusted device offset
    iterations: int = 6
    floor_quantile: float = 0.002  # the weakest 0.2 % of readings mark the detection floor
    truncated_fit: bool = False  # truncated regression at the floor; off: see docs
    place_rows: float = (
        0.0  # weight of one device's rows of one beacon from one place, rows (0: off)
    )
    place_cell_m: float = 1.0  # a "place": a fix's floor cell
    # split-half check of the exponent (issue 16): the history is fitted again in two halves
    # of interleaved places; their difference estimates the fit's own error, and the
    # exponent is shrunk to the layout's by exponent_prior_sd^2 / (sd^2 + error^2). 0: off.
    # 0.4 was measured (docs/positioning.md, "Issue 16, phase 2"): an assumed spread of a
    # site's exponent around the declared one, not a sourced figure
    exponent_prior_sd: float = 0.0
    # censored rows (issue 16 phase 4): beacons NOT heard at a confident fix, where the model
    # expects them within censored_margin_db of the floor or above, enter the fit as
    # readings below the floor (a Tobit regression, one EM step per IRLS pass): at exponent
    # 3 the lost weak readings otherwise flatten the fit (2.56 from the true positions)
    censored_fit: bool = False
    censored_margin_db: float = 10.0
    # the censored fit only where the data ask for it (session 27): the plain fit (heard rows
    # only) predicts how many of the beacons it expects within censored_margin_db of the floor
    # or above should go unheard (scan misses plus the normal tail under the floor); the
    # censored fit is used when the beacons unheard are more than censored_gate times that.
    # 0: the censored fit whenever censored_fit is on
    censored_gate: float = 0.0
    # weight of one censored row against a heard one (0-1): an unheard beacon is weaker
    # evidence than a reading (its miss model is an estimate, and misses come in bursts)
    censored_weight: float = 1.0
    # the fit sees the particle cloud, not only its mean (session 27): min_distance_m measured
    # from the fix selects the rows of wrong fixes (a device 1.5 m under a beacon is left out
    # at its true spot and let in at a fix 3 m away). cloud_gate: a heard row weighs the
    # share of the cloud's weight at least min_distance_m from the beacon (rows under
    # cloud_min_share are left out); cloud_log_distance: its log10 d is the mean over those
    # particles (over the whole cloud without the gate), not log10 d at the mean;
    # cloud_honest: the cloud first widened about the fix to the honest sigma_m (the model
    # check's, :mod:`.uncertainty`), as the particles alone are too sure of a wrong fix
    cloud_gate: bool = False
    cloud_honest: bool = False
    cloud_min_share: float = 0.1
    cloud_log_distance: bool = False


@dataclass(frozen=True, slots=True)
class RadioFit:
    exponent: float
    obstacle_loss_db: float  # per obstacle crossed by the line of sight
    beacon_offset_db: FloatArray  # (B,)
    device_offset_db: FloatArray  # (D,) for the compact device index given to the fit
    device_rows: IntArray  # (D,)
    scale_db: float  # robust residual spread


def fit_radio_model(
    rssi_dbm: FloatArray,
    declared_1m_dbm: FloatArray,
    beacon: IntArray,
    device: IntArray,
    log10_d: FloatArray,
    n_beacons: int,
    prior_exponent: float,
    params: SelfCalParams,
    fit_devices: bool = True,
    crossings: FloatArray | None = None,
    floor_dbm: float | FloatArray | None = None,
    row_weight: FloatArray | None = None,
    fixed_exponent: float | None = None,
    censored: npt.NDArray[np.bool_] | None = None,
    miss_rate: float = 0.0,
) -> RadioFit:
    """Huber-IRLS fit of exponent, obstacle loss, beacon and device offsets (all rows (R,)).

    rssi = declared + a_b + c_d - 10 n log10(d) - L * crossings. Block coordinate
    descent: each block has a closed-form weighted ridge solution given the others,
    computed for all groups at once with ``bincount``; the two slopes are fitted on
    centred variables so the common level stays with the offsets. ``fixed_exponent``: the
    exponent is not fitted but held at this value.

    ``floor_dbm``: the receiver's detection floor (scalar or (R,)), None: no truncation.
    Only readings above it exist, so where the model's mean is near or below it the
    heard readings are the upper tail and a plain fit flattens the exponent. The fit is
    then a truncated regression (Hausman & Wise, Econometrica 45(4), 1977): each pass
    compares a reading with its mean given that it was heard (Fisher scoring, see
    :func:`positioning.tracker.detection.irls_step`).

    ``censored`` (R,): rows of beacons not heard (their ``rssi_dbm`` is the floor, dBm):
    the reading fell below the floor, or the scan missed it (``miss_rate``). Each pass
    replaces such a row by its expected value given that (a Tobit regression by EM:
    mu - r s lam, lam = phi(a) / Phi(a), a = (floor - mu) / s, r the posterior probability
    that it fell below the floor rather than was missed) with weight r: a missed scan
    says nothing about the radio.
    """
    n_dev = int(device.max(initial=-1)) + 1
    n = float(prior_exponent if fixed_exponent is None else fixed_exponent)
    a, c = np.zeros(n_beacons), np.zeros(n_dev)
    loss = params.obstacle_loss_prior_db
    cross = np.zeros(len(beacon)) if crossings is None else crossings.astype(np.float64)
    lam_o, bound = params.offset_prior_rows, params.offset_bound_db
    x = -10.0 * log10_d
    y = rssi_dbm - declared_1m_dbm
    floor = None if floor_dbm is None else floor_dbm - declared_1m_dbm
    scale = 4.0
    for _ in range(params.iterations):
        mu = a[beacon] + c[device] + n * x - loss * cross
        if censored is None:
            w, y_work, scale = irls_step(y, mu, floor, scale, params.min_rows, HUBER_K)
        else:
            heard = ~censored
            w, y_work, scale = np.zeros(len(y)), y.copy(), scale
            w[heard], y_work[heard], scale = irls_step(
                y[heard], mu[heard], None if floor is None else _rows(floor, heard),
                scale, params.min_rows, HUBER_K,
            )  # fmt: skip
            w[censored], y_work[censored] = _censored_rows(
                y[censored], mu[censored], scale, miss_rate
            )
        if row_weight is not None:
            w = w * row_weight
        if fixed_exponent is None:
            z = y_work - a[beacon] - c[device] + loss * cross
            n = float(np.clip(_slope(w, x, z, prior_exponent, params), *EXPONENT_BOUNDS))
        if crossings is not None and cross.any():
            z = y_work - a[beacon] - c[device] - n * x
            loss = _slope(w, -cross, z, params.obstacle_loss_prior_db, params)
            loss = float(np.clip(loss, 0.0, params.obstacle_loss_max_db))
        if fit_devices and n_dev:
            r = y_work - a[beacon] - n * x + loss * cross
            c = _group_ridge(device, w, r, n_dev, lam_o, bound)
        r = y_work - c[device] - n * x + loss * cross
        a = _group_ridge(beacon, w, r, n_beacons, lam_o, bound)
    counted = device if censored is None else device[~censored]
    rows = np.bincount(counted, minlength=n_dev).astype(np.int64)
    return RadioFit(n, loss, a, c, rows, scale)


def _rows(floor: float | FloatArray, keep: npt.NDArray[np.bool_]) -> float | FloatArray:
    return floor if np.ndim(floor) == 0 else np.asarray(floor)[keep]


def _censored_rows(
    floor: FloatArray, mu: FloatArray, scale: float, miss_rate: float
) -> tuple[FloatArray, FloatArray]:
    """Weight and working value of rows not heard, floor (R,) and model means (R,): the
    E-step of a censored (Tobit) regression with scan misses (see :func:`fit_radio_model`)."""
    a = np.clip((floor - mu) / scale, -30.0, 30.0)
    log_below = log_ndtr(a)  # log P(reading < floor)
    lam = np.exp(-0.5 * a * a - 0.5 * np.log(2.0 * np.pi) - log_below)
    below = (1.0 - miss_rate) * np.exp(log_below)
    r = below / np.maximum(miss_rate + below, 1e-12)
    return r, mu - scale * lam


def fit_body_loss(
    residual_db: FloatArray,
    weight: FloatArray,
    heading_cos: FloatArray,
    distance_m: FloatArray,
    prior_db: float,
    params: SelfCalParams,
    max_db: float | None = None,
) -> float:
    """Body loss B, dB, from walkers' rows (R,): residuals of the fitted model (the mean
    body loss sits in the offsets), Huber weights, cos of the angle between heading and
    beacon (-1: behind), distances; fitted between 0 and ``max_db`` (None: ``prior_db``).

    residual = B (cos / 2 - mean) + k cos / d: the second term is the fix trailing the
    walker, which makes beacons ahead louder and those behind quieter as a body would
    (k = 10 n lag / ln 10; a 1 m lag at 5 m looks like 3.5 dB of body loss). The two
    differ in how they fall with distance, so both are fitted together (weighted least
    squares, a ridge of ``body_prior_rows`` pulling B to its prior); k is a nuisance.
    """
    w = weight / weight.sum()
    x = np.column_stack([0.5 * heading_cos, heading_cos / np.maximum(distance_m, MIN_DISTANCE_M)])
    x -= w @ x
    z = residual_db - w @ residual_db
    xtx = (x * w[:, None]).T @ x
    # the prior is worth body_prior_rows rows of what the data tell about B once the
    # lag is accounted for (the two regressors are correlated)
    told = xtx[0, 0] - xtx[0, 1] ** 2 / max(xtx[1, 1], 1e-12)
    ridge = params.body_prior_rows / weight.sum() * max(told, 0.0)
    xtx[0, 0] += ridge
    xtz = (x * w[:, None]).T @ z + np.array([ridge * prior_db, 0.0])
    try:
        body = float(np.linalg.solve(xtx, xtz)[0])
    except np.linalg.LinAlgError:
        return prior_db
    return float(np.clip(body, 0.0, prior_db if max_db is None else max_db))


def _slope(
    w: FloatArray, x: FloatArray, z: FloatArray, prior: float, params: SelfCalParams
) -> float:
    """Weighted least-squares slope of z on x (both centred), ridge towards ``prior``."""
    sw = float(w.sum())
    xc = x - float(np.sum(w * x)) / sw
    zc = z - float(np.sum(w * z)) / sw
    sxx = float(np.sum(w * xc * xc))
    ridge = params.slope_prior_rows * sxx / sw
    if sxx + ridge <= 0:
        return prior
    return (float(np.sum(w * xc * zc)) + ridge * prior) / (sxx + ridge)


def _group_ridge(
    group: IntArray, w: FloatArray, r: FloatArray, size: int, lam: float, bound: float
) -> FloatArray:
    num = np.bincount(group, weights=w * r, minlength=size)
    den = np.bincount(group, weights=w, minlength=size) + lam
    return np.asarray(np.clip(num / den, -bound, bound))
