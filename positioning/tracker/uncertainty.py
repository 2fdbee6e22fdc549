"""The still-stretch check of the reported sigma_m (issue 16 phase 4).

While a device stands still its readings do not average a static error away: one
shadowing draw, or learned terms that drifted with the fix, hold the error in place for
minutes. What does average down over such a stretch is the model-free fix's noise. So each
device keeps the mean, over its current still stretch, of the vector from the centroid
expected at the fix (:meth:`TrackerRadio.centroid_at`) to the centroid heard; its length,
less what the centroid's own noise leaves after ``n`` epochs, is a persistent disagreement
the particles' spread does not show. A walking epoch (posterior walking weight > 0.5) or a
new track starts a new stretch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["StillDisagreement"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class StillDisagreement:
    """Per-slot running sums of the centroid disagreement over the current still stretch."""

    def __init__(self) -> None:
        self._sum: FloatArray = np.zeros((0, 2))
        self._n: FloatArray = np.zeros(0)

    def _ensure(self, size: int) -> None:
        if size > len(self._n):
            cap = max(size, 2 * len(self._n), 64)
            self._sum = np.concatenate([self._sum, np.zeros((cap - len(self._n), 2))])
            self._n = np.concatenate([self._n, np.zeros(cap - len(self._n))])

    def update(
        self,
        slots: IntArray,
        vec_m: FloatArray,
        restart: npt.NDArray[np.bool_],
        noise_m: float,
    ) -> FloatArray:
        """Add this epoch's (M, 2) disagreement ``vec_m`` of ``slots``; ``restart`` (M,) starts a
        new stretch with it. Returns (M,) the stretch mean's length, debiased by the noise a
        mean of ``n`` vectors of RMS ``noise_m`` keeps: sqrt(max(|mean|^2 - noise^2 / n, 0))."""
        self._ensure(int(slots.max(initial=-1)) + 1)
        keep = ~restart
        self._sum[slots] = np.where(keep[:, None], self._sum[slots], 0.0) + vec_m
        self._n[slots] = np.where(keep, self._n[slots], 0.0) + 1.0
        n = self._n[slots]
        mean = self._sum[slots] / n[:, None]
        return np.sqrt(np.maximum(np.sum(mean**2, axis=1) - noise_m**2 / n, 0.0))

    def epochs(self, slots: IntArray) -> FloatArray:
        """(M,) epochs in each slot's current still stretch (after :meth:`update`)."""
        self._ensure(int(slots.max(initial=-1)) + 1)
        return self._n[slots].copy()
