"""Explicit radio calibration: the 1 m power of one beacon, and a walk fit of the whole store.

Both use the log-distance model of :mod:`positioning.pathloss`,
``rssi = P_1m,b - 10 n log10(d)``, with ``P_1m,b = declared_b + offset_b``.

* :func:`one_metre_power`: samples of one beacon taken at a known distance give
  ``P_1m = median(rssi) + 10 n log10(d)``. The median, not the mean: body shadowing
  and multipath make RSSI heavy-tailed on the low side.
* :func:`fit_walk`: recordings at known points (x, y, beacon, rssi) give the shared
  exponent ``n`` and a per-beacon offset. The model is linear in (n, offsets), so it is
  solved by iteratively reweighted least squares with Huber then Tukey bisquare
  weights (robust to the outliers every real walk has) and a Gaussian prior pulling each offset to 0, so a
  beacon heard only a few times keeps roughly its declared power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.errors import CalibrationError
from positioning.pathloss import EXPONENT_BOUNDS, MIN_DISTANCE_M

__all__ = [
    "BISQUARE_C",
    "BeaconResiduals",
    "DEFAULT_PRIOR_SIGMA_DB",
    "HUBER_ITERATIONS",
    "HUBER_K",
    "IRLS_ITERATIONS",
    "MAD_TO_SIGMA",
    "MIN_SAMPLES",
    "OUTLIER_SIGMAS",
    "OneMetrePower",
    "WalkFit",
    "fit_walk",
    "one_metre_power",
]


#: Fewest samples for a 1 m power: at ~1 Hz for 30 s a beacon gives ~30; below 5 the
#: median of a 4-8 dB spread (DEFAULT_SIGMA_DB) is worse than a datasheet value.
MIN_SAMPLES = 5
#: MAD to standard deviation for Gaussian data (Huber, Robust Statistics, 1981).
MAD_TO_SIGMA = 1.4826
#: Huber tuning constant: 95 % efficiency under Gaussian noise (Huber 1981).
HUBER_K = 1.345
#: Tukey bisquare constant, also 95 % efficient (Beaton & Tukey, Technometrics 16, 1974).
#: Redescending: rows beyond it get zero weight, which one-sided shadowing outliers need.
BISQUARE_C = 4.685
#: IRLS iterations with Huber weights (convex, finds the basin) before switching to bisquare.
HUBER_ITERATIONS = 10
#: Prior spread of a beacon's true 1 m power around its declared one, dB: unit-to-unit
#: variation and mounting (wall, shelf, ceiling) shift it by a few dB.
DEFAULT_PRIOR_SIGMA_DB = 6.0
IRLS_ITERATIONS = 30
#: A residual beyond this many robust sigmas is reported as an outlier.
OUTLIER_SIGMAS = 3.0


@dataclass(frozen=True, slots=True)
class OneMetrePower:
    """Measured 1 m power. ``spread_db`` is the robust standard deviation of the samples,
    ``stderr_db`` the standard error of the median (1.2533 sigma / sqrt(n))."""

    power_dbm: float
    n_samples: int
    median_rssi_dbm: float
    spread_db: float
    stderr_db: float


def one_metre_power(
    rssi_dbm: npt.ArrayLike, distance_m: float, path_loss_exponent: float
) -> OneMetrePower:
    """The 1 m power from RSSI samples of one beacon taken at ``distance_m``."""
    r = np.asarray(rssi_dbm, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < MIN_SAMPLES:
        raise CalibrationError(
            f"only {len(r)} RSSI samples; need at least {MIN_SAMPLES} (hold the phone still longer)"
        )
    if not distance_m > 0:
        raise CalibrationError(f"distance must be positive, got {distance_m}")
    median = float(np.median(r))
    spread = float(MAD_TO_SIGMA * np.median(np.abs(r - median)))
    power = median + 10.0 * path_loss_exponent * float(np.log10(distance_m))
    stderr = 1.2533 * spread / float(np.sqrt(len(r)))
    return OneMetrePower(power, len(r), median, spread, stderr)


@dataclass(frozen=True, slots=True)
class BeaconResiduals:
    beacon_id: str
    n_rows: int
    offset_db: float  # fitted P_1m minus declared
    power_1m_dbm: float
    rms_db: float
    median_abs_db: float
    outliers: int


@dataclass(frozen=True, slots=True)
class WalkFit:
    """Result of :func:`fit_walk`; ``residual_sigma_db`` is the robust spread of all residuals."""

    exponent: float
    exponent_stderr: float
    beacons: tuple[BeaconResiduals, ...]
    residual_sigma_db: float
    rms_db: float
    n_rows: int
    exponent_clipped: bool

    def power_1m_dbm(self) -> dict[str, float]:
        return {b.beacon_id: b.power_1m_dbm for b in self.beacons}


def _robust_weights(
    res: npt.NDArray[np.float64], sigma: float, bisquare: bool
) -> npt.NDArray[np.float64]:
    a = np.abs(res) / max(sigma, 1e-6)
    if bisquare:
        return np.asarray(np.where(a < BISQUARE_C, (1.0 - (a / BISQUARE_C) ** 2) ** 2, 0.0))
    return np.asarray(np.where(a <= HUBER_K, 1.0, HUBER_K / np.maximum(a, 1e-12)))


def fit_walk(
    points_xy: npt.ArrayLike,
    beacon_index: npt.ArrayLike,
    rssi_dbm: npt.ArrayLike,
    beacon_xy: npt.ArrayLike,
    declared_power_dbm: npt.ArrayLike,
    beacon_ids: tuple[str, ...],
    *,
    prior_sigma_db: float = DEFAULT_PRIOR_SIGMA_DB,
) -> WalkFit:
    """Fit exponent and per-beacon offsets to recordings at known points.

    Shapes: ``points_xy`` (N, 2) m, ``beacon_index`` (N,) into the (B, 2) ``beacon_xy``,
    ``rssi_dbm`` (N,), ``declared_power_dbm`` (B,).
    """
    p = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    bi = np.asarray(beacon_index, dtype=np.int64)
    r = np.asarray(rssi_dbm, dtype=np.float64)
    bxy = np.asarray(beacon_xy, dtype=np.float64).reshape(-1, 2)
    declared = np.asarray(declared_power_dbm, dtype=np.float64)
    n_b = len(bxy)
    d = np.maximum(np.linalg.norm(p - bxy[bi], axis=1), MIN_DISTANCE_M)
    x = -10.0 * np.log10(d)  # coefficient of n
    if len(r) < MIN_SAMPLES or float(np.ptp(x)) < 1.0:
        raise CalibrationError(
            "the recordings need rows at a spread of distances (at least 1.3x apart) to fit an exponent"
        )
    y = r - declared[bi]
    design = np.zeros((len(r), 1 + n_b))
    design[:, 0] = x
    design[np.arange(len(r)), 1 + bi] = 1.0
    theta, sigma, w = _irls(design, y, n_b, prior_sigma_db)
    n_exp = float(np.clip(theta[0], *EXPONENT_BOUNDS))
    clipped = n_exp != float(theta[0])
    theta[0] = n_exp
    res = y - design @ theta
    cov_scale = sigma**2 * np.linalg.pinv((design * w[:, None]).T @ design)
    return WalkFit(
        exponent=n_exp,
        exponent_stderr=float(np.sqrt(max(cov_scale[0, 0], 0.0))),
        beacons=tuple(
            _beacon_residuals(beacon_ids[b], res[bi == b], float(theta[1 + b]), declared[b], sigma)
            for b in range(n_b)
        ),
        residual_sigma_db=sigma,
        rms_db=float(np.sqrt(np.mean(res**2))),
        n_rows=len(r),
        exponent_clipped=clipped,
    )


def _irls(
    design: npt.NDArray[np.float64], y: npt.NDArray[np.float64], n_b: int, prior_sigma_db: float
) -> tuple[npt.NDArray[np.float64], float, npt.NDArray[np.float64]]:
    """Robust least squares (Huber, then Tukey bisquare) with a ridge prior on the offsets.

    Returns (theta, sigma, weights).
    """
    w = np.ones(len(y))
    sigma = float(MAD_TO_SIGMA * np.median(np.abs(y - np.median(y)))) or 1.0
    theta = np.zeros(design.shape[1])
    for it in range(IRLS_ITERATIONS):
        ridge = np.zeros(design.shape[1])
        ridge[1:] = (sigma / prior_sigma_db) ** 2  # prior N(0, prior_sigma^2) on each offset
        a = (design * w[:, None]).T @ design + np.diag(ridge)
        new = np.asarray(np.linalg.solve(a, (design * w[:, None]).T @ y), dtype=np.float64)
        res = y - design @ new
        sigma = max(float(MAD_TO_SIGMA * np.median(np.abs(res))), 0.1)
        w = _robust_weights(res, sigma, bisquare=it >= HUBER_ITERATIONS)
        if it > HUBER_ITERATIONS and np.max(np.abs(new - theta)) < 1e-6:
            theta = new
            break
        theta = new
    return theta, sigma, w


def _beacon_residuals(
    beacon_id: str, res: npt.NDArray[np.float64], offset: float, declared: float, sigma: float
) -> BeaconResiduals:
    n = len(res)
    return BeaconResiduals(
        beacon_id=beacon_id,
        n_rows=n,
        offset_db=offset,
        power_1m_dbm=float(declared + offset),
        rms_db=float(np.sqrt(np.mean(res**2))) if n else float("nan"),
        median_abs_db=float(np.median(np.abs(res))) if n else float("nan"),
        outliers=int(np.sum(np.abs(res) > OUTLIER_SIGMAS * sigma)),
    )
