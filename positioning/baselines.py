"""The baseline locators (interface B, :mod:`positioning.locator`).

Three baselines work on a sliding window of aggregated RSSI (see
:mod:`positioning.signal`): the nearest beacon, a weighted centroid, and RSSI-domain
weighted least squares solved by damped Gauss-Newton for all devices at once. The
tracker (:mod:`positioning.tracker.filter`) keeps state between estimates and is the one
to use; the baselines are what it is measured against.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch
from positioning.errors import PositioningError
from positioning.layout import Layout
from positioning.locator import PositionFix
from positioning.pathloss import (
    DEFAULT_SIGMA_DB,
    beacon_height_offsets_m,
    distance_from_rssi,
    distance_m,
    rssi_at_distance,
    rssi_gradient_wrt_position,
)
from positioning.signal import (
    DEFAULT_WINDOW_S,
    DeviceCodes,
    RowBuffer,
    WindowMatrix,
    aggregate,
    encode_batch,
)
from positioning.walkable import DEFAULT_STREET_DEPTH_M, entrance_side

__all__ = [
    "CENTROID_TOP_K",
    "CENTROID_WEIGHT_EXPONENT",
    "CentroidLocator",
    "NearestBeaconLocator",
    "WindowLocator",
    "WlsLocator",
    "floor_bounds",
    "nearest_beacon",
    "weighted_centroid",
    "wls_rssi",
]

FloatArray = npt.NDArray[np.float64]

#: Weighted centroid: beacons used (the strongest, relative to their 1 m power) and the
#: weight exponent g in w = d^-g. k=4, g=1 follow Blumenthal et al., "Weighted centroid
#: localization in Zigbee-based sensor networks", IEEE WISP 2007 (g ~ 1 best indoors).
CENTROID_TOP_K = 4
CENTROID_WEIGHT_EXPONENT = 1.0
#: WLS Gauss-Newton: iterations and Levenberg damping (dB^2/m^2 scale of J^T W J).
WLS_ITERATIONS = 12
WLS_DAMPING = 1e-2
#: Samples of one beacon beyond which averaging stops helping: shadowing is correlated
#: over a window, so the weight of a beacon saturates (w = n / (n + 3)).
WLS_COUNT_SATURATION = 3.0


class WindowLocator:
    """Shared machinery of the baselines: buffer rows, aggregate a window, solve."""

    name = "window"

    def __init__(
        self, layout: Layout, *, seed: int = 0, window_s: float = DEFAULT_WINDOW_S
    ) -> None:
        if not window_s > 0:
            raise PositioningError(f"window_s must be positive, got {window_s!r}")
        self.layout = layout
        self.seed = seed
        self.window_s = float(window_s)
        self.beacon_xy = layout.beacon_xy
        self.tx_power_dbm = layout.tx_power_dbm
        self.exponent = layout.path_loss_exponent
        self._beacon_index = layout.beacon_index
        self._devices = DeviceCodes()
        self._buffer = RowBuffer()
        self.rejected = {"unknown_beacon": 0, "invalid_rssi": 0}

    def observe(self, batch: ObservationBatch) -> None:
        enc = encode_batch(batch, self._beacon_index, self._devices)
        self.rejected["unknown_beacon"] += enc.unknown_beacon
        self.rejected["invalid_rssi"] += enc.invalid_rssi
        self._buffer.append(enc.rows)

    def estimate(self, t_s: float) -> PositionFix:
        t_from = t_s - self.window_s
        self._buffer.drop_before(t_from)
        window = aggregate(self._buffer.between(t_from, t_s), len(self.beacon_xy))
        if len(window.device) == 0:
            return PositionFix.empty(t_s)
        xy, sigma = self.solve(window)
        order = np.argsort(self._devices.ids(window.device), kind="stable")
        return PositionFix(
            t_s,
            self._devices.ids(window.device[order]),
            np.asarray(xy[order], dtype=np.float64),
            np.asarray(sigma[order], dtype=np.float64),
            window.n_beacons[order],
        )

    def forget(self, device_ids: Iterable[str]) -> None:
        codes = self._devices.lookup(device_ids)
        if len(codes):
            self._buffer.drop_devices(codes)

    def solve(self, window: WindowMatrix) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError


def nearest_beacon(
    rssi_dbm: FloatArray, tx_power_dbm: FloatArray, beacon_xy: FloatArray, exponent: float
) -> tuple[FloatArray, FloatArray]:
    """Position of the beacon heard strongest relative to its 1 m power. rssi (D, B), NaN unheard."""
    excess = np.where(np.isnan(rssi_dbm), -np.inf, rssi_dbm - tx_power_dbm)
    best = np.argmax(excess, axis=1)
    rows = np.arange(len(best))
    d = distance_from_rssi(rssi_dbm[rows, best], tx_power_dbm[best], exponent)
    return beacon_xy[best].copy(), np.asarray(d, dtype=np.float64)


def weighted_centroid(
    rssi_dbm: FloatArray,
    tx_power_dbm: FloatArray,
    beacon_xy: FloatArray,
    exponent: float,
    top_k: int = CENTROID_TOP_K,
    weight_exponent: float = CENTROID_WEIGHT_EXPONENT,
) -> tuple[FloatArray, FloatArray]:
    """Centroid of the ``top_k`` strongest beacons weighted by d^-g. Returns (xy (D,2), spread (D,))."""
    excess = np.where(np.isnan(rssi_dbm), -np.inf, rssi_dbm - tx_power_dbm)
    k = min(top_k, rssi_dbm.shape[1])
    kth = -np.sort(-excess, axis=1)[:, k - 1 : k]
    use = np.isfinite(excess) & (excess >= kth)
    d = distance_from_rssi(np.where(use, rssi_dbm, -100.0), tx_power_dbm, exponent)
    w = np.where(use, d**-weight_exponent, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    xy = w @ beacon_xy
    spread2 = np.einsum("db,dbi->d", w, (beacon_xy[None, :, :] - xy[:, None, :]) ** 2)
    return xy, np.sqrt(spread2)


def wls_rssi(
    rssi_dbm: FloatArray,
    weight: FloatArray,
    tx_power_dbm: FloatArray,
    beacon_xy: FloatArray,
    exponent: float,
    start_xy: FloatArray,
    bounds: tuple[float, float, float, float],
    sigma_db: float = DEFAULT_SIGMA_DB,
    iterations: int = WLS_ITERATIONS,
    height_offset_m: npt.ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Minimise sum_b w_b (rssi_b - model_b(x))^2 for every device at once (damped Gauss-Newton).

    rssi, weight: (D, B) with weight 0 where unheard; start_xy (D, 2); bounds
    (x_min, y_min, x_max, y_max). Returns xy (D, 2) and the 1-sigma radius (D,)
    from the inverse of the Gauss-Newton information matrix.
    """
    r = np.nan_to_num(rssi_dbm)
    xy = start_xy.astype(np.float64).copy()
    lo, hi = np.array(bounds[:2]), np.array(bounds[2:])
    for _ in range(iterations):
        d = distance_m(xy, beacon_xy, height_offset_m)
        resid = r - rssi_at_distance(d, tx_power_dbm, exponent)
        jac = rssi_gradient_wrt_position(xy, beacon_xy, exponent, height_offset_m)  # (D, B, 2)
        jtj = np.einsum("db,dbi,dbj->dij", weight, jac, jac)
        jtr = np.einsum("db,dbi,db->di", weight, jac, resid)
        trace = np.trace(jtj, axis1=1, axis2=2)[:, None, None]
        damped = jtj + (WLS_DAMPING * trace + 1e-6) * np.eye(2)
        step = np.linalg.solve(damped, jtr[..., None])[..., 0]
        xy = np.clip(xy + step, lo, hi)
    jac = rssi_gradient_wrt_position(xy, beacon_xy, exponent, height_offset_m)
    info = np.einsum("db,dbi,dbj->dij", weight, jac, jac) / sigma_db**2 + 1e-6 * np.eye(2)
    cov = np.linalg.inv(info)
    return xy, np.sqrt(np.clip(np.trace(cov, axis1=1, axis2=2), 0.0, 1e4))


class NearestBeaconLocator(WindowLocator):
    """The device is at the beacon it hears strongest (relative to the beacon's 1 m power)."""

    name = "nearest"

    def solve(self, window: WindowMatrix) -> tuple[FloatArray, FloatArray]:
        return nearest_beacon(window.rssi_dbm, self.tx_power_dbm, self.beacon_xy, self.exponent)


class CentroidLocator(WindowLocator):
    """Weighted centroid of the strongest beacons."""

    name = "centroid"

    def __init__(
        self,
        layout: Layout,
        *,
        seed: int = 0,
        window_s: float = DEFAULT_WINDOW_S,
        top_k: int = CENTROID_TOP_K,
        weight_exponent: float = CENTROID_WEIGHT_EXPONENT,
    ) -> None:
        super().__init__(layout, seed=seed, window_s=window_s)
        self.top_k = int(top_k)
        self.weight_exponent = float(weight_exponent)

    def solve(self, window: WindowMatrix) -> tuple[FloatArray, FloatArray]:
        return weighted_centroid(
            window.rssi_dbm,
            self.tx_power_dbm,
            self.beacon_xy,
            self.exponent,
            self.top_k,
            self.weight_exponent,
        )


class WlsLocator(WindowLocator):
    """RSSI-domain weighted least squares from the weighted centroid, vectorised over devices."""

    name = "wls"

    def __init__(
        self,
        layout: Layout,
        *,
        seed: int = 0,
        window_s: float = DEFAULT_WINDOW_S,
        sigma_db: float = DEFAULT_SIGMA_DB,
    ) -> None:
        super().__init__(layout, seed=seed, window_s=window_s)
        self.sigma_db = float(sigma_db)

    def solve(self, window: WindowMatrix) -> tuple[FloatArray, FloatArray]:
        start, _ = weighted_centroid(
            window.rssi_dbm, self.tx_power_dbm, self.beacon_xy, self.exponent
        )
        weight = window.count / (window.count + WLS_COUNT_SATURATION)
        return wls_rssi(
            window.rssi_dbm,
            weight,
            self.tx_power_dbm,
            self.beacon_xy,
            self.exponent,
            start,
            floor_bounds(self.layout),
            self.sigma_db,
            height_offset_m=beacon_height_offsets_m(self.layout),
        )


def floor_bounds(layout: Layout) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max): the store plus the street in front of its entrance."""
    x0, y0, x1, y1 = 0.0, 0.0, layout.width_m, layout.height_m
    if layout.entrance is not None:
        side = entrance_side(layout)
        d = DEFAULT_STREET_DEPTH_M
        x0, y0 = x0 - d * (side == "left"), y0 - d * (side == "bottom")
        x1, y1 = x1 + d * (side == "right"), y1 + d * (side == "top")
    return x0, y0, x1, y1
