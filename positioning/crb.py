"""Cramér-Rao lower bound of the position error for a layout and a radio model.

With readings r_b ~ N(mu_b(p), sigma^2) and the log-distance mean
mu_b(p) = P_b + c - 10 n log10(d_b(p)), the Fisher information of the position is

    J(p) = (1 / sigma^2) * sum_b g_b g_b^T,   g_b = d mu_b / d p = -10 n / ln(10) * (p - b) / d_b^2

(Patwari et al., "Locating the nodes", IEEE Signal Processing Magazine 22(4), 2005,
eq. 9). With the device gain c unknown (``unknown_offset``) its information is
removed by the Schur complement J_pp - J_pc J_cc^-1 J_cp. The bound on the RMS
position error is sqrt(trace(J^-1)); ``samples`` independent readings per beacon
divide it by sqrt(samples). Averaged over the walkable floor it is the yardstick
of how close a locator gets to what the geometry allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.pathloss import DEFAULT_SIGMA_DB, beacon_height_offsets_m, distance_m
from positioning.walkable import WalkableGrid

__all__ = ["CrbSummary", "MAX_BOUND_M", "layout_crb", "position_crb_m"]


FloatArray = npt.NDArray[np.float64]

#: Cap on the bound where the geometry gives (almost) no information, metres.
MAX_BOUND_M = 100.0


def position_crb_m(
    points_xy: npt.ArrayLike,
    beacon_xy: npt.ArrayLike,
    exponent: float,
    sigma_db: float = DEFAULT_SIGMA_DB,
    *,
    height_offset_m: npt.ArrayLike = 0.0,
    unknown_offset: bool = False,
    samples: float = 1.0,
    heard: npt.NDArray[np.bool_] | None = None,
) -> FloatArray:
    """RMS position error bound (m) at each of (P, 2) points; ``heard`` (P, B) masks beacons."""
    p = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(beacon_xy, dtype=np.float64).reshape(-1, 2)
    diff = p[:, None, :] - b[None, :, :]
    d2 = np.einsum("pbi,pbi->pb", diff, diff) + np.asarray(height_offset_m) ** 2
    g = (-10.0 * exponent / np.log(10.0)) * diff / np.maximum(d2, 1e-12)[..., None]
    mask = np.ones(d2.shape) if heard is None else heard.astype(np.float64)
    inv_var = mask * samples / sigma_db**2
    j = np.einsum("pb,pbi,pbj->pij", inv_var, g, g)
    if unknown_offset:
        j_pc = np.einsum("pb,pbi->pi", inv_var, g)
        j_cc = np.maximum(inv_var.sum(axis=1), 1e-12)
        j = j - j_pc[:, :, None] * j_pc[:, None, :] / j_cc[:, None, None]
    det = j[:, 0, 0] * j[:, 1, 1] - j[:, 0, 1] * j[:, 1, 0]
    trace_inv = (j[:, 0, 0] + j[:, 1, 1]) / np.where(det > 1e-12, det, np.nan)
    bound = np.sqrt(np.clip(np.nan_to_num(trace_inv, nan=MAX_BOUND_M**2), 0.0, MAX_BOUND_M**2))
    return np.asarray(bound)


@dataclass(frozen=True, slots=True)
class CrbSummary:
    """The bound over the store's walkable floor: points (P, 2) and per-point bound (P,)."""

    points_xy: FloatArray
    bound_m: FloatArray

    @property
    def mean_m(self) -> float:
        return float(self.bound_m.mean())

    @property
    def median_m(self) -> float:
        return float(np.median(self.bound_m))

    @property
    def rms_m(self) -> float:
        return float(np.sqrt(np.mean(self.bound_m**2)))


def layout_crb(
    layout: Layout,
    sigma_db: float = DEFAULT_SIGMA_DB,
    exponent: float | None = None,
    *,
    unknown_offset: bool = False,
    samples: float = 1.0,
    sensitivity_dbm: float | None = None,
    spacing_m: float = 0.5,
) -> CrbSummary:
    """The bound at walkable points inside the store on a ``spacing_m`` lattice.

    ``sensitivity_dbm``: beacons whose model RSSI at a point is below it are not heard there.
    """
    n = layout.path_loss_exponent if exponent is None else exponent
    grid = WalkableGrid.from_layout(layout)
    stride = max(1, int(round(spacing_m / grid.resolution_m)))
    iy, ix = np.nonzero(grid.free)
    keep = (ix % stride == 0) & (iy % stride == 0)
    points = grid.cell_centre(ix[keep], iy[keep])
    heights = beacon_height_offsets_m(layout)
    heard = None
    if sensitivity_dbm is not None:
        d = distance_m(points, layout.beacon_xy, heights)
        heard = layout.tx_power_dbm - 10.0 * n * np.log10(d) >= sensitivity_dbm
    bound = position_crb_m(
        points,
        layout.beacon_xy,
        n,
        sigma_db,
        height_offset_m=heights,
        unknown_offset=unknown_offset,
        samples=samples,
        heard=heard,
    )
    return CrbSummary(points, bound)
