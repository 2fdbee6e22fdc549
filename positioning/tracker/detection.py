"""What the receiver can hear: its detection floor and how often it misses a beacon it
should hear, learned online from the readings (see docs/positioning.md,
"Self-calibration")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr

__all__ = ["DetectionModel", "DetectionParams", "FloorEstimate", "inverse_mills", "irls_step"]


FloatArray = npt.NDArray[np.float64]


def inverse_mills(alpha: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Truncated-normal terms at ``alpha`` = (mean - floor) / sigma (any shape).

    A normal reading heard only above the floor has conditional mean
    mean + sigma * lam and variance sigma^2 (1 - delta), with lam = phi(alpha) /
    Phi(alpha) (the inverse Mills ratio) and delta = lam (lam + alpha), 0 < delta < 1
    (Greene, *Econometric Analysis*, 7th ed., theorem 19.2). Returns (lam, delta).
    """
    a = np.clip(alpha, -30.0, 30.0)
    lam = np.exp(-0.5 * a * a - 0.5 * np.log(2.0 * np.pi) - log_ndtr(a))
    return lam, np.clip(lam * (lam + a), 0.0, 1.0)


def irls_step(
    y: FloatArray,
    mu: FloatArray,
    floor: FloatArray | float | None,
    scale: float,
    min_rows: int,
    huber_k: float,
) -> tuple[FloatArray, FloatArray, float]:
    """Huber weights, working response and robust spread of one IRLS pass of a fit of
    readings ``y`` to model means ``mu`` (rows (R,)), the spread ``scale`` from the pass
    before. With a ``floor`` (None: no truncation) a heard reading is compared with its
    truncated mean mu + scale lam, weighed by its variance 1 - delta and the working
    response is mu + e / (1 - delta) (Fisher scoring of the truncated likelihood); the
    spread comes from the rows two spreads clear of the floor, where truncation does
    not narrow it, when there are ``min_rows`` of them.
    """
    e = y - mu  # centred by the offsets after one pass
    if floor is None:
        scale = max(float(np.median(np.abs(e))) * 1.4826, 1.0)
        return np.minimum(1.0, huber_k * scale / np.maximum(np.abs(e), 1e-9)), y, scale
    alpha = (mu - floor) / scale
    lam, delta = inverse_mills(alpha)
    e -= scale * lam
    keep, clear = np.maximum(1.0 - delta, 1e-3), alpha > 2.0
    base = e[clear] if clear.sum() >= min_rows else e
    scale = max(float(np.median(np.abs(base - np.median(base)))) * 1.4826, 1.0)
    w = np.minimum(1.0, huber_k * scale / np.maximum(np.abs(e), 1e-9)) * keep
    return w, mu + e / keep, scale


class FloorEstimate:
    """The receiver's detection floor: a low quantile of every reading, integer-dBm histogram."""

    def __init__(self, quantile: float) -> None:
        self.quantile = quantile
        self._histogram = np.zeros(128, dtype=np.int64)  # integer dBm -127..0

    @property
    def seen(self) -> bool:
        return bool(self._histogram.any())

    @property
    def dbm(self) -> float:
        cum = np.cumsum(self._histogram)
        return float(np.searchsorted(cum, self.quantile * cum[-1]) - 127)

    def add(self, rssi_dbm: FloatArray) -> None:
        bins = np.clip(np.round(rssi_dbm).astype(np.int64) + 127, 0, 127)
        self._histogram += np.bincount(bins, minlength=128)


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """What a missing beacon says; reasons in docs/positioning.md."""

    sensitivity_quantile: float = 0.002  # the weakest 0.2 % of readings mark the floor
    default_sensitivity_dbm: float = (
        -100.0
    )  # before any reading (BLE 1M PHY spec: -70, phones ~-100)
    strong_margin_db: float = 10.0  # "should have been heard": this far above the floor
    prior_miss_rate: float = 0.3  # scans miss beacons: duty cycles, packet loss, OS batching
    prior_rows: float = 200.0  # weight of that prior, in (device, beacon, epoch) cases
    miss_rate_bounds: tuple[float, float] = (0.05, 0.95)


class DetectionModel:
    """Receiver floor and miss rate, learned online: P(no reading | expected RSSI)."""

    def __init__(self, params: DetectionParams | None = None) -> None:
        self.params = params or DetectionParams()
        self._floor = FloorEstimate(self.params.sensitivity_quantile)
        self._strong = 0.0
        self._missed = 0.0

    @property
    def sensitivity_dbm(self) -> float:
        return self._floor.dbm if self._floor.seen else self.params.default_sensitivity_dbm

    @property
    def miss_rate(self) -> float:
        p = self.params
        rate = (self._missed + p.prior_miss_rate * p.prior_rows) / (self._strong + p.prior_rows)
        return float(np.clip(rate, *p.miss_rate_bounds))

    def add_readings(self, rssi_dbm: FloatArray) -> None:
        self._floor.add(rssi_dbm)

    def add_epoch(self, predicted_dbm: FloatArray, heard: npt.NDArray[np.bool_]) -> None:
        """(D, B) predicted RSSI at confident fixes and whether each beacon was heard."""
        strong = predicted_dbm > self.sensitivity_dbm + self.params.strong_margin_db
        self._strong += float(strong.sum())
        self._missed += float((strong & ~heard).sum())
