"""The zone rasters: which zone a point is in, by one array index instead of a
point-in-polygon test per zone. Two, for two needs:

- :class:`ZoneIndex` (the engine, the zone hysteresis, the tracker's zone posterior):
  the zone of each 5 cm cell's centre, and each cell's distance to the nearest zone.
  Near an edge a point may take its cell's zone, 20x finer than a fix's error.
- :class:`ZoneLookup` (the simulator's ground truth): exact. Each raster cell whose four
  corners lie in the same zone answers directly; only points in cells cut by a zone
  edge go through ``Layout.zone_of``, so the answer is that of the polygons. For
  millions of truth samples ``Layout.zone_of`` alone would dominate a run.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from positioning.layout import Layout

__all__ = ["EXACT_RASTER_M", "NO_ZONE", "ZONE_RASTER_M", "ZoneIndex", "ZoneLookup"]

FloatArray = npt.NDArray[np.float64]

#: Zone index of a point in no zone.
NO_ZONE = -1

#: Cell size of the zone lookup raster, metres: 5 cm is 20x finer than the fixes' error,
#: so the raster changes no decision, and a lookup is one array index instead of a
#: point-in-polygon test per zone.
ZONE_RASTER_M = 0.05


class ZoneIndex:
    """Zone index (-1 none) of points, and their distance to the nearest zone, by rasters
    of the store built once per layout."""

    __slots__ = ("_flat", "_gap", "_grid", "_res", "_shape")

    def __init__(self, layout: Layout, resolution_m: float = ZONE_RASTER_M) -> None:
        nx = max(1, int(np.ceil(layout.width_m / resolution_m)))
        ny = max(1, int(np.ceil(layout.height_m / resolution_m)))
        gx, gy = np.meshgrid(
            (np.arange(nx) + 0.5) * resolution_m, (np.arange(ny) + 0.5) * resolution_m
        )
        centres = np.column_stack([gx.ravel(), gy.ravel()])
        self._grid = layout.zone_of(centres).reshape(ny, nx)
        none = self._grid == NO_ZONE
        # centre-to-centre distance to the nearest zone cell, less the half cell to its edge
        if none.all():
            self._gap = np.full((ny, nx), np.inf)
        else:
            edt = np.asarray(ndimage.distance_transform_edt(none), dtype=np.float64)
            self._gap = np.where(none, np.maximum(edt - 0.5, 0.0) * resolution_m, 0.0)
        self._res = resolution_m
        self._shape = (ny, nx)
        # the raster flat, one NO_ZONE after it for the points off the raster
        self._flat = np.append(self._grid.ravel(), NO_ZONE)

    def __call__(self, points: npt.ArrayLike) -> npt.NDArray[np.int64]:
        p = np.asarray(points).reshape(-1, 2)
        return self.of_xy(p[:, 0], p[:, 1])

    def of_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Zone index of points given as x and y arrays (of any one shape): the tracker
        keeps its particles' x and y apart, and a column of (N, 2) points is a slow
        strided read. In place on two float64 buffers (the tracker asks per particle)."""
        ix = np.asarray(x).astype(np.float64)
        iy = np.asarray(y).astype(np.float64)
        ix /= self._res
        iy /= self._res
        np.floor(ix, out=ix)
        np.floor(iy, out=iy)
        ny, nx = self._shape
        inside = ix >= 0
        inside &= iy >= 0
        inside &= ix < nx
        inside &= iy < ny
        iy *= nx
        iy += ix
        np.copyto(iy, nx * ny, where=~inside)  # off the raster (or NaN): the NO_ZONE after it
        # one flat gather (3x faster than masked 2-D indexing)
        return np.asarray(np.take(self._flat, iy.astype(np.intp)), dtype=np.int64)

    def gap_m(self, points: npt.ArrayLike) -> FloatArray:
        """(N,) distance from each point to the nearest zone, metres: 0 inside one, inf
        outside the store's rectangle or in a store without zones."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            ix = np.floor(p[:, 0] / self._res)
            iy = np.floor(p[:, 1] / self._res)
        ny, nx = self._shape
        inside = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < ny)
        out = np.full(len(p), np.inf)
        out[inside] = self._gap[iy[inside].astype(np.int64), ix[inside].astype(np.int64)]
        return out

    def at(self, x_m: float, y_m: float) -> int:
        """Zone of one point (no array overhead)."""
        if not (math.isfinite(x_m) and math.isfinite(y_m)):
            return NO_ZONE
        ix, iy = int(x_m // self._res), int(y_m // self._res)
        ny, nx = self._shape
        return int(self._grid[iy, ix]) if 0 <= ix < nx and 0 <= iy < ny else NO_ZONE


#: Raster step of the exact lookup: zone edges cut few cells, and the raster stays small
#: (30 x 20 m: 60k cells).
EXACT_RASTER_M = 0.1
_EDGE = -2


class ZoneLookup:
    """Exact zone of points (as ``Layout.zone_of``), fast: see the module docstring."""

    def __init__(self, layout: Layout, step_m: float = EXACT_RASTER_M) -> None:
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
