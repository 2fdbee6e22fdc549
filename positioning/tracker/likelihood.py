"""The tracker's measurement model: log p(RSSI readings | particle), vectorised over
devices x particles x beacons (see docs/positioning.md, tracker item 2).

Readings are packed per device as the K strongest beacons heard in an epoch
(:mod:`positioning.tracker.state`); path losses come from the radio maps
(:mod:`positioning.tracker.radiomap`, :mod:`positioning.tracker.radio`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import stdtr

__all__ = [
    "LikelihoodParams",
    "log_heard",
    "log_likelihood",
    "miss_log_likelihood",
    "miss_log_likelihood_at",
    "residual_log_likelihood",
]


F32 = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LikelihoodParams:
    """Measurement model in the RSSI domain (see docs/positioning.md)."""

    sigma_fast_db: float = 5.0  # per-reading fading, averages down with the count
    sigma_slow_db: float = 3.0  # shadowing correlated over seconds, does not average down
    student_nu: float = 4.0  # heavy tails: deep fades and body shadowing are not Gaussian
    offset_prior_db: float = 6.0  # phone/tag gain spread before self-calibration
    body_loss_db: float = 4.0  # carrier's body between device and beacon (Faragher & Harle 2015)
    # prior spread, dB, of the wall loss per crossing before the self-calibration's first fit:
    # a common deviation is profiled per particle like the device offset (issue 16, session
    # 28); 0: off (the declared walls count at the prior loss until fitted)
    wall_prior_sd_db: float = 0.0


def log_likelihood(
    path_loss_db: F32,
    expected_1m_dbm: F32,
    rssi_dbm: F32,
    count: F32,
    offset_mean_db: F32,
    offset_sigma_db: F32,
    radio: LikelihoodParams,
    floor_dbm: float | None = None,
    crossings: F32 | None = None,
    wall_loss_db: float = 0.0,
) -> F32:
    """log p(readings | particle) for (M, N) particles, Student-t residuals, device offset profiled.

    path_loss_db (M, N, K) model loss from 1 m to each particle (10 n log10 d plus
    obstacle losses, see :mod:`positioning.tracker.radiomap`);
    expected_1m_dbm (M, K), rssi_dbm (M, K) and count (M, K) are the packed readings
    (count 0 marks padding). The device's unknown gain offset c is estimated per
    particle (the precision-weighted mean of the residuals, shrunk towards
    ``offset_mean_db`` with prior ``offset_sigma_db``) and its prior cost added: a
    profile likelihood over c, which keeps a phone reading 5 dB low from being
    placed far from every beacon.

    ``floor_dbm``: the receiver's detection floor (None: ignored). Only readings above it
    arrive, so each heard reading's density is divided by the model's probability of
    hearing it, P(reading > floor | particle) (a truncated Student-t, the spread of one
    reading): a weak reading then fits any particle whose mean lies near or below the
    floor, not only those predicting exactly that reading.

    ``crossings`` (M, N, K): obstacles between each particle and beacon; with it, a common
    deviation of the wall loss from ``wall_loss_db`` (prior spread ``wall_prior_sd_db``, the
    loss kept >= 0) is profiled jointly with the offset: walls the data have not priced yet
    then do not place a device.
    """
    resid = path_loss_db + (rssi_dbm - expected_1m_dbm)[:, None, :]
    return residual_log_likelihood(
        resid,
        rssi_dbm,
        count,
        offset_mean_db,
        offset_sigma_db,
        radio,
        floor_dbm,
        crossings,
        wall_loss_db,
    )


def residual_log_likelihood(
    resid: F32,
    rssi_dbm: F32,
    count: F32,
    offset_mean_db: F32,
    offset_sigma_db: F32,
    radio: LikelihoodParams,
    floor_dbm: float | None = None,
    crossings: F32 | None = None,
    wall_loss_db: float = 0.0,
) -> F32:
    """:func:`log_likelihood` from the (M, N, K) residuals rssi - (expected - path loss)
    before the device offset (worked on in place)."""
    nu = np.float32(radio.student_nu)
    var = np.float32(radio.sigma_fast_db**2) / np.maximum(count, 1) + np.float32(
        radio.sigma_slow_db**2
    )
    prec = np.where(count > 0, 1.0 / var, 0.0).astype(np.float32)  # (M, K)
    prior_prec = (1.0 / offset_sigma_db**2).astype(np.float32)[:, None]
    mu0 = offset_mean_db.astype(np.float32)[:, None]
    # Offset: precision-weighted mean of the residuals shrunk towards the prior (a batched
    # matrix product); the Student-t below then discounts the beacons it does not fit.
    weighted = _batched_dot(resid, prec)
    if crossings is None:
        offset = (weighted + prior_prec * mu0) / (prec.sum(axis=1)[:, None] + prior_prec)
        resid -= offset[..., None]
    else:  # resid = c - delta x: a 2 x 2 ridge solve per particle
        px = crossings * prec[:, None, :]
        a11 = prec.sum(axis=1)[:, None] + prior_prec
        a12 = -px.sum(axis=2)
        a22 = (px * crossings).sum(axis=2) + np.float32(1.0 / radio.wall_prior_sd_db**2)
        b1 = weighted + prior_prec * mu0
        b2 = -(px * resid).sum(axis=2)
        det = a11 * a22 - a12 * a12
        offset = (a22 * b1 - a12 * b2) / det
        delta = np.maximum((a11 * b2 - a12 * b1) / det, np.float32(-wall_loss_db))
        resid -= offset[..., None]
        resid += delta[..., None] * crossings
    heard = (
        None
        if floor_dbm is None
        else log_heard(rssi_dbm[:, None, :] - resid, floor_dbm, count, radio)
    )
    resid *= resid
    # times prec / nu per beacon, as a product with a diagonal (K, K) matrix per device:
    # one nonzero term per output, so exactly the elementwise product, and 2-3x faster
    # than the (M, 1, K) operand broadcast along the particles (a trailing axis of K)
    m, k = prec.shape
    scale = np.zeros((m, k, k), np.float32)
    scale[:, np.arange(k), np.arange(k)] = prec / nu
    with np.errstate(invalid="ignore"):  # the BLAS kernel's spurious flag (_batched_dot)
        resid = np.matmul(resid, scale)
    # sum over the ~10 beacons as a product with ones: 6x faster than .sum(axis=2)
    ll = _batched_dot(np.log1p(resid, out=resid), np.ones((1, resid.shape[2]), np.float32))
    ll *= np.float32(-0.5 * (nu + 1.0))
    ll -= 0.5 * prior_prec * (offset - mu0) ** 2
    if crossings is not None:
        ll -= np.float32(0.5 / radio.wall_prior_sd_db**2) * delta**2
    if heard is not None:
        ll -= heard
    return np.asarray(ll, dtype=np.float32)


def log_heard(mean_dbm: F32, floor_dbm: float, count: F32, radio: LikelihoodParams) -> F32:
    """(M, N) sum over heard beacons of log P(reading > floor) for model means (M, N, K).

    One reading is Student-t (``student_nu``) about the mean with the spread of
    ``sigma_fast_db`` and ``sigma_slow_db`` together; count (M, K), 0 marks padding.
    For nu = 4 the t CDF has a closed form (F(t) = 1/2 + 3/8 u (1 - u^2 / 12),
    u = t / sqrt(1 + t^2 / 4)), otherwise scipy's ``stdtr``.
    """
    sd = np.float32(np.hypot(radio.sigma_fast_db, radio.sigma_slow_db))
    t = mean_dbm - np.float32(floor_dbm)
    t *= 1.0 / sd
    if radio.student_nu == 4.0:  # in place: two (M, N, K) buffers
        p = t * t
        p *= 0.25
        p += 1.0
        np.sqrt(p, out=p)
        np.divide(t, p, out=t)  # u
        np.multiply(t, t, out=p)
        p *= -1.0 / 12.0
        p += 1.0
        p *= t
        p *= 0.375
        p += 0.5
    else:
        p = stdtr(radio.student_nu, t).astype(np.float32)
    logp = np.log(np.maximum(p, np.float32(1e-30), out=p), out=p)
    return _batched_dot(logp, (count > 0).astype(np.float32))


def _batched_dot(a: F32, b: F32) -> F32:
    """(M, N) sums over k of a (M, N, K) times b (M or 1, K), as a batched matrix
    product (several times faster than a sum over the last axis). The BLAS kernel now
    and then raises a spurious invalid-value flag on finite input (seen twice, on a
    (1, 3, 5) array, never reproduced): the flag is ignored, and the result checked,
    with an exact but slower sum as the fallback."""
    with np.errstate(invalid="ignore"):
        out = np.matmul(a, np.broadcast_to(b, (len(a), b.shape[1]))[:, :, None])[..., 0]
    if np.isfinite(out).all() or not np.isfinite(a).all():
        return np.asarray(out)
    return np.asarray(np.einsum("mnk,mk->mn", a, np.broadcast_to(b, (len(a), b.shape[1]))))


def miss_log_likelihood(
    path_loss_db: F32,
    expected_dbm: F32,
    valid: BoolArray,
    sensitivity_dbm: float,
    miss_rate: float,
    radio: LikelihoodParams,
) -> F32:
    """log P(beacon not heard | particle) summed over U unheard beacons: (M, N).

    path_loss_db (M, U, N), beacon-major: each beacon's plane is contiguous, so the
    per-device terms broadcast along N (a trailing axis of U = 2 is ~10x slower);
    expected_dbm (M, U) is the beacon's 1 m power plus the device's offset; valid (M, U)
    masks padding. Not hearing a beacon means its RSSI
    fell below the receiver floor, or the scan missed it (``miss_rate``):
    P = m + (1 - m) * Phi((floor - mu) / sigma), Phi by the logistic approximation
    1 / (1 + exp(-1.702 z)) (Bowling et al., J. Ind. Eng. Manag. 2(1), 2009).
    """
    return miss_log_likelihood_at(
        expected_dbm[:, :, None] - path_loss_db, valid, sensitivity_dbm, miss_rate, radio
    )


def miss_log_likelihood_at(
    mean_dbm: F32, valid: BoolArray, sensitivity_dbm: float, miss_rate: float,
    radio: LikelihoodParams,
) -> F32:  # fmt: skip
    """:func:`miss_log_likelihood` from the (M, U, N) model mean RSSI (worked on in place)."""
    sigma = np.float32(np.hypot(radio.sigma_fast_db, radio.sigma_slow_db))
    # in place on one (M, U, N) buffer, the same operations in the same order as
    # log(m + (1 - m) / (1 + exp(-clip(z, -30, 30)))): a third of the time
    z = mean_dbm  # mu
    np.subtract(np.float32(sensitivity_dbm), z, out=z)
    z *= np.float32(1.702 / sigma)
    np.maximum(z, np.float32(-30.0), out=z)
    np.minimum(z, np.float32(30.0), out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += np.float32(1.0)
    np.divide(np.float32(1.0), z, out=z)  # P(below the floor)
    z *= np.float32(1.0 - miss_rate)
    z += np.float32(miss_rate)
    np.log(z, out=z)
    np.copyto(z, np.float32(0.0), where=~valid[:, :, None])
    # sum over the few U by adding planes, in order
    out = z[:, 0].copy() if z.shape[1] else np.zeros((z.shape[0], z.shape[2]), np.float32)
    for u in range(1, z.shape[1]):
        out += z[:, u]
    return np.asarray(out, np.float32)
