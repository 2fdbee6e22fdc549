"""The radio map learned from the crowd: a per-beacon correction of the path-loss model.

Static shadowing (furniture, goods, people standing in the same places) makes every
beacon read a few dB more or less than the log-distance model predicts at a given
spot, and the pattern is correlated over metres (Gudmundson, Electronics Letters
27(23), 1991: exponential correlation; indoor 2.4 GHz shadowing 3-8 dB). A shopper
standing still averages fast fading away but not this field, so the fix keeps a
fixed bias. Without a site survey the field can be learned from the shoppers
themselves (crowd-sourced radio maps: e.g. Rai et al., "Zee", MobiCom 2012; Wu et
al., "LiFS", MobiCom 2012): the residual between what a device reads and what the
model predicts at the tracker's position estimate is accumulated per beacon and floor
cell, smoothed with a Gaussian kernel of about the correlation length, shrunk
towards 0 by a prior weight (a kriging-like posterior mean: little data, no
correction), capped, and fed back as a correction of the predicted RSSI.

Guards against lock-in (a track's own readings making its own biased position look
right): walking fixes count fully and standing ones only ``still_weight`` (a walker's
track is pinned by its motion, a stop is not); only confident fixes count; each
device-epoch's mean residual is removed (the device's gain offset is profiled out by
the likelihood anyway), as is each beacon's mean correction (that is the
self-calibrated beacon offset's job); the correction is refitted only every
``refit_every_s``.

Arrays: accumulators (B, coarse cells); the correction (cells, B) on the tracker's
fine grid, float32, in dB to add to the predicted RSSI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["N_TERMS", "RadioLearnParams", "RadioMapLearner"]


F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Terms of a residual kept apart: RSSI above the 1 m power, log10 d, crossings.
N_TERMS = 3


@dataclass(frozen=True, slots=True)
class RadioLearnParams:
    """Knobs of the crowd-learned radio map; reasons in docs/positioning.md."""

    cell_m: float = 1.0
    kernel_m: float = 1.5
    prior_rows: float = 1.0
    max_correction_db: float = 6.0
    max_fix_sigma_m: float = 2.0
    max_distance_m: float = 12.0
    still_weight: float = 0.0
    refit_every_s: float = 20.0
    inside_only: bool = False


class RadioMapLearner:
    """Online accumulator and the correction it implies (see the module docstring)."""

    def __init__(
        self,
        n_beacons: int,
        nx: int,
        ny: int,
        resolution_m: float,
        params: RadioLearnParams,
        cells: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        """A grid of ``nx`` x ``ny`` cells of ``resolution_m``; ``cells`` (ny * nx,): where
        to learn and correct (None: everywhere; the tracker passes the inside of the store)."""
        self.params = params
        self._cells = np.ones(nx * ny, bool) if cells is None else cells
        self.n_beacons = n_beacons
        self._factor = max(1, round(params.cell_m / resolution_m))
        self._coarse_m = self._factor * resolution_m
        self._cnx = -(-nx // self._factor)
        self._cny = -(-ny // self._factor)
        iy, ix = np.divmod(np.arange(nx * ny), nx)
        self._coarse_of = (iy // self._factor) * self._cnx + ix // self._factor
        self._corners, self._bilinear = _bilinear_weights(
            (iy + 0.5) / self._factor - 0.5, (ix + 0.5) / self._factor - 0.5, self._cny, self._cnx
        )
        size = n_beacons * self._cnx * self._cny
        self._w = np.zeros(size)
        self._r = np.zeros((N_TERMS, size))
        self._last_fit_s = -np.inf
        self.rows = 0
        self.version = 0
        self.correction_db: F32 | None = None

    def add(
        self,
        t_s: float,
        cell: IntArray,
        terms_db: FloatArray,
        usable: npt.NDArray[np.bool_],
        weight: FloatArray,
        coefficients: FloatArray | None = None,
    ) -> None:
        """One epoch: (D,) fine cells of the fixes; (T, D, B) terms of the residual
        (measured minus predicted RSSI = ``coefficients @ terms``, e.g. the RSSI above the
        1 m power, log10 d and crossings with coefficients 1, 10 n, L: kept apart, so a
        refit uses the current model, not the one of the epoch); (D, B) which residuals
        count; (D,) weight of each fix. ``coefficients`` (T,): refit with them when due;
        None defers the refit (the tracker refits when the self-calibration does, so the
        path-loss table is rebuilt once for both)."""
        use = usable & (weight[:, None] > 0) & self._cells[cell][:, None]
        n = use.sum(axis=1)
        keep = n >= 2
        if keep.any():
            terms = np.where(use, terms_db, 0.0)[:, keep]
            u = use[keep]
            # the device-epoch's common offset (its gain, profiled out by the likelihood)
            terms -= (terms.sum(axis=2) / n[keep])[..., None]
            di, bi = np.nonzero(u)
            flat = bi * (self._cnx * self._cny) + self._coarse_of[cell[keep][di]]
            w = weight[keep][di]
            size = self._w.shape[0]
            self._w += np.bincount(flat, w, size)
            for k, term in enumerate(terms):
                self._r[k] += np.bincount(flat, w * term[di, bi], size)
            self.rows += len(di)
        due = t_s - self._last_fit_s >= self.params.refit_every_s
        if coefficients is not None and self.rows and due:
            self._refit(coefficients)
            self._last_fit_s = t_s

    def _refit(self, coefficients: FloatArray) -> None:
        p = self.params
        shape = (self.n_beacons, self._cny, self._cnx)
        s = p.kernel_m / self._coarse_m
        w = ndimage.gaussian_filter(self._w.reshape(shape), (0, s, s), mode="constant")
        r = ndimage.gaussian_filter(
            (coefficients @ self._r).reshape(shape), (0, s, s), mode="constant"
        )
        # each beacon's mean correction belongs to its self-calibrated offset
        mean_b = r.sum(axis=(1, 2)) / np.maximum(w.sum(axis=(1, 2)), 1e-9)
        corr = (r - mean_b[:, None, None] * w) / (w + p.prior_rows)
        corr = np.clip(corr, -p.max_correction_db, p.max_correction_db)
        flat = corr.reshape(len(corr), -1).T  # (coarse cells, B)
        fine = sum(flat[c] * f[:, None] for c, f in zip(self._corners, self._bilinear, strict=True))
        self.correction_db = np.asarray(fine * self._cells[:, None], dtype=np.float32)
        self.version += 1


def _bilinear_weights(
    fy: FloatArray, fx: FloatArray, ny: int, nx: int
) -> tuple[list[IntArray], list[FloatArray]]:
    """Flat indices of the 4 coarse nodes around fractional node coordinates (clamped at
    the edges) and their bilinear weights."""
    y0 = np.clip(np.floor(fy), 0, ny - 1).astype(np.int64)
    x0 = np.clip(np.floor(fx), 0, nx - 1).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
    ty, tx = np.clip(fy - y0, 0.0, 1.0), np.clip(fx - x0, 0.0, 1.0)
    corners = [y0 * nx + x0, y0 * nx + x1, y1 * nx + x0, y1 * nx + x1]
    weights = [(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx]
    return corners, weights
