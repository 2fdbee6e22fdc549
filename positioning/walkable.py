"""Walkable space: an occupancy grid of the floor, obstacles inflated by a body clearance.

Shared by the simulator (shortest paths around shelves) and the tracker (particles
may not stand in or pass through obstacles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from positioning.geometry import points_in_polygon
from positioning.layout import Layout

#: Grid cell size. 0.25 m resolves the narrowest aisle of a shop (about 1 m) in 4 cells.
DEFAULT_RESOLUTION_M = 0.25
#: Half a shoulder width: a walker's centre keeps this far from shelves and walls.
DEFAULT_CLEARANCE_M = 0.25


@dataclass(frozen=True, slots=True)
class WalkableGrid:
    """free[iy, ix] is True where a walker's centre may be. Cell (ix, iy) spans
    [ix*res, (ix+1)*res) x [iy*res, (iy+1)*res)."""

    free: npt.NDArray[np.bool_]
    resolution_m: float
    clearance_to_obstacle_m: npt.NDArray[
        np.float64
    ]  # distance of each free cell centre to the nearest blocked cell

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        resolution_m: float = DEFAULT_RESOLUTION_M,
        clearance_m: float = DEFAULT_CLEARANCE_M,
    ) -> WalkableGrid:
        nx = max(1, int(np.ceil(layout.width_m / resolution_m)))
        ny = max(1, int(np.ceil(layout.height_m / resolution_m)))
        xs = (np.arange(nx) + 0.5) * resolution_m
        ys = (np.arange(ny) + 0.5) * resolution_m
        gx, gy = np.meshgrid(xs, ys)
        centres = np.column_stack([gx.ravel(), gy.ravel()])
        blocked = np.zeros(len(centres), dtype=bool)
        for obstacle in layout.obstacles:
            blocked |= points_in_polygon(centres, obstacle.polygon)
        blocked_grid = blocked.reshape(ny, nx)
        # Distance from each cell to the nearest obstacle cell or the outline.
        padded = np.pad(~blocked_grid, 1, constant_values=False)
        dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * resolution_m
        dist = np.asarray(dist, dtype=np.float64)
        free = dist > clearance_m
        if not free.any():  # tiny test layouts: fall back to "not inside an obstacle"
            free = ~blocked_grid
        return cls(free=free, resolution_m=resolution_m, clearance_to_obstacle_m=dist)

    @property
    def shape(self) -> tuple[int, int]:
        ny, nx = self.free.shape
        return ny, nx

    def cell_of(self, points: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(ix, iy) of each point, clipped to the grid."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.free.shape
        ix = np.clip((p[:, 0] / self.resolution_m).astype(np.int64), 0, nx - 1)
        iy = np.clip((p[:, 1] / self.resolution_m).astype(np.int64), 0, ny - 1)
        return ix, iy

    def cell_centre(self, ix: npt.ArrayLike, iy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.column_stack(
            [(np.asarray(ix) + 0.5) * self.resolution_m, (np.asarray(iy) + 0.5) * self.resolution_m]
        )

    def is_free(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) whether each point is walkable (inside the grid and free)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.free.shape
        inside = (
            (p[:, 0] >= 0)
            & (p[:, 1] >= 0)
            & (p[:, 0] < nx * self.resolution_m)
            & (p[:, 1] < ny * self.resolution_m)
        )
        ix, iy = self.cell_of(p)
        return np.asarray(inside & self.free[iy, ix])

    def nearest_free(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each point moved to the centre of the nearest free cell (unchanged when already free)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2).copy()
        bad = ~self.is_free(p)
        if bad.any():
            _, (iy_idx, ix_idx) = ndimage.distance_transform_edt(~self.free, return_indices=True)
            ix, iy = self.cell_of(p[bad])
            p[bad] = self.cell_centre(ix_idx[iy, ix], iy_idx[iy, ix])
        return p
