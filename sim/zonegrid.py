"""Fast exact zone lookup: a raster answers inside cells, polygons decide near zone edges.

``Layout.zone_of`` tests every point against every polygon; for millions of truth
samples that dominates a run. Here each raster cell whose four corners lie in the
same zone answers directly; only points in cells cut by a zone edge go through
``Layout.zone_of``, so the answer is the same.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout

#: Raster step: zone edges cut few cells, and the raster stays small (30 x 20 m: 60k cells).
ZONE_RASTER_M = 0.1
_EDGE = -2


class ZoneLookup:
    def __init__(self, layout: Layout, step_m: float = ZONE_RASTER_M) -> None:
        """A raster over the store outline and one step around it; zones lie inside the
        outline (the layout is validated so), so points beyond the raster are in none."""
        self.layout = layout
        x0, y0, x1, y1 = -step_m, -step_m, layout.width_m + step_m, layout.height_m + step_m
        self.origin = (x0, y0)
        self.step = step_m
        nx = int(np.ceil((x1 - x0) / step_m))
        ny = int(np.ceil((y1 - y0) / step_m))
        gx, gy = np.meshgrid(x0 + np.arange(nx + 1) * step_m, y0 + np.arange(ny + 1) * step_m)
        corners = layout.zone_of(np.column_stack([gx.ravel(), gy.ravel()])).reshape(ny + 1, nx + 1)
        same = (
            (corners[:-1, :-1] == corners[1:, :-1])
            & (corners[:-1, :-1] == corners[:-1, 1:])
            & (corners[:-1, :-1] == corners[1:, 1:])
        )
        self.cells = np.where(same, corners[:-1, :-1], _EDGE)

    def zone_of(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """(N,) zone index of each point, -1 outside every zone (as ``Layout.zone_of``)."""
        ny, nx = self.cells.shape
        fx = np.floor((points[:, 0] - self.origin[0]) / self.step).astype(np.int64)
        fy = np.floor((points[:, 1] - self.origin[1]) / self.step).astype(np.int64)
        inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        out = np.full(len(points), -1, dtype=np.int64)
        out[inside] = self.cells[fy[inside], fx[inside]]
        exact = out == _EDGE
        if exact.any():
            out[exact] = self.layout.zone_of(points[exact])
        return out
