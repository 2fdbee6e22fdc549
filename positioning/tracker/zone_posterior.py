"""The posterior probability of a fix's zone, from a particle cloud.

A fix is one point of the cloud (the tracker's mean); its zone comes from the point
alone. ``p_zone`` is the posterior weight of the particles standing in that same
zone (or, for a fix in no zone, in no zone): how sure the locator is of the zone the
fix reports. The zone hysteresis (:mod:`positioning.visits.zones`) commits a change faster
when it is sure.

The cloud as it is trusts the radio model: over-confident where the model is off (mean
0.87-0.92 predicted against 0.70-0.85 observed on the scripted shops and the fashion-store
days). Widened about the fix to the honest sigma_m it is under-confident (0.66-0.78 predicted
against 0.70-0.99 observed): the widening spreads the whole cloud, also where the model holds. The
reported p_zone is an even mixture of the two hypotheses, model right or off by the honest
radius (:meth:`ZonePosterior.honest_p_zone`; docs/positioning.md, "Issue 16, session 27").
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
        return self._p_zone_xy(pos[..., 0], pos[..., 1], w, xy)

    def _p_zone_xy(self, x: F32, y: F32, w: F32, xy: F64) -> F64:
        """:meth:`p_zone` of a cloud given as (M, N) x and y planes."""
        if len(w) == 0:
            return np.empty(0)
        same = self._index.of_xy(x, y) == self._index(xy)[:, None]
        total = np.maximum(np.sum(w, axis=1, dtype=np.float64), 1e-30)
        return np.clip(np.sum(w * same, axis=1, dtype=np.float64) / total, 0.0, 1.0)

    def honest_p_zone(self, pos: F32, w: F32, xy: F64, grow: F64, model_weight: float) -> F64:
        """(M,) p_zone of each cloud (M, N, 2) with weights (M, N) and fix ``xy`` (M, 2):
        ``model_weight`` times that of the cloud as it is, plus the rest times that of the
        cloud widened ``grow`` (M,) times about its fix (honest sigma_m over the spread)."""
        if len(w) == 0:
            return np.empty(0)
        # fix + grow * (pos - fix), on the x and y planes (a trailing axis of 2 is slow)
        g = grow.astype(np.float32)[:, None]
        fix = xy.astype(np.float32)
        wide = []
        for axis in (0, 1):
            f = fix[:, axis : axis + 1]
            plane = pos[..., axis] - f
            plane *= g
            plane += f
            wide.append(plane)
        p = self._p_zone_xy(wide[0], wide[1], w, xy)
        if model_weight > 0:
            p = model_weight * self.p_zone(pos, w, xy) + (1.0 - model_weight) * p
        return p
