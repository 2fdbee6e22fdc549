"""The posterior probability of a fix's zone, from a particle cloud.

A fix is one point of the cloud (the tracker's mean); its zone comes from the point
alone. ``p_zone`` is the posterior weight of the particles standing in that same
zone (or, for a fix in no zone, in no zone): how sure the locator is of the zone the
fix reports. The zone hysteresis (:mod:`positioning.visits.zones`) commits a change faster
when it is sure.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.zonemap import ZoneIndex

__all__ = ["ZonePosterior"]


F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class ZonePosterior:
    """Zone probabilities of particle clouds in one store (a zone raster built once)."""

    def __init__(self, layout: Layout) -> None:
        self._index = ZoneIndex(layout)

    def p_zone(self, pos: F32, w: F32, xy: F64) -> F64:
        """(M,) weight of each cloud (M, N, 2) with weights (M, N) in the zone of its fix
        ``xy`` (M, 2) (NO_ZONE counts as a zone)."""
        m, n = w.shape
        if m == 0:
            return np.empty(0)
        zone_of_particle = self._index(pos.reshape(-1, 2)).reshape(m, n)
        same = zone_of_particle == self._index(xy)[:, None]
        total = np.maximum(np.sum(w, axis=1, dtype=np.float64), 1e-30)
        return np.clip(np.sum(w * same, axis=1, dtype=np.float64) / total, 0.0, 1.0)
