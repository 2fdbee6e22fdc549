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

__all__ = [
    "DEFAULT_CLEARANCE_M",
    "DEFAULT_RESOLUTION_M",
    "DEFAULT_STREET_DEPTH_M",
    "WalkableGrid",
    "entrance_side",
]


#: Grid cell size. 0.25 m resolves the narrowest aisle of a shop (about 1 m) in 4 cells.
DEFAULT_RESOLUTION_M = 0.25
#: Half a shoulder width: a walker's centre keeps this far from shelves and walls.
DEFAULT_CLEARANCE_M = 0.25
#: Depth of the street in front of the entrance, where passers-by walk.
DEFAULT_STREET_DEPTH_M = 4.0


@dataclass(frozen=True, slots=True)
class WalkableGrid:
    """free[iy, ix] is True where a walker's centre may be.

    Cell (ix, iy) spans [x0 + ix*res, x0 + (ix+1)*res) x [y0 + iy*res, y0 + (iy+1)*res)
    with (x0, y0) = ``origin_m``. With ``street_depth_m`` > 0 the grid also covers a
    street of that depth in front of the entrance side (outside the outline, where
    passers-by walk); the outline is then a wall crossed only through the entrance.
    A layout without an entrance has no street (ARCHITECTURE 3.1): the grid is the floor.
    """

    free: npt.NDArray[np.bool_]
    resolution_m: float
    #: distance of each cell centre to the nearest blocked cell, metres
    clearance_to_obstacle_m: npt.NDArray[np.float64]
    origin_m: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        resolution_m: float = DEFAULT_RESOLUTION_M,
        clearance_m: float = DEFAULT_CLEARANCE_M,
        street_depth_m: float = 0.0,
    ) -> WalkableGrid:
        x0, y0, x1, y1 = 0.0, 0.0, layout.width_m, layout.height_m
        has_street = street_depth_m > 0 and layout.entrance is not None
        side = entrance_side(layout) if has_street else None
        if side == "bottom":
            y0 -= street_depth_m
        elif side == "top":
            y1 += street_depth_m
        elif side == "left":
            x0 -= street_depth_m
        elif side == "right":
            x1 += street_depth_m
        nx = max(1, int(np.ceil((x1 - x0) / resolution_m)))
        ny = max(1, int(np.ceil((y1 - y0) / resolution_m)))
        gx, gy = np.meshgrid(
            x0 + (np.arange(nx) + 0.5) * resolution_m, y0 + (np.arange(ny) + 0.5) * resolution_m
        )
        centres = np.column_stack([gx.ravel(), gy.ravel()])
        blocked = np.zeros(len(centres), dtype=bool)
        for obstacle in layout.obstacles:
            blocked |= points_in_polygon(centres, obstacle.polygon)
        if side is not None:
            blocked |= _outline_wall(centres, layout, resolution_m)
        blocked_grid = blocked.reshape(ny, nx)
        # Distance from each cell to the nearest obstacle cell or the grid's edge.
        padded = np.pad(~blocked_grid, 1, constant_values=False)
        dist = np.asarray(
            ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * resolution_m, dtype=np.float64
        )
        free = dist > clearance_m
        if not free.any():  # tiny test layouts: fall back to "not inside an obstacle"
            free = ~blocked_grid
        return cls(
            free=free, resolution_m=resolution_m, clearance_to_obstacle_m=dist, origin_m=(x0, y0)
        )

    @property
    def shape(self) -> tuple[int, int]:
        ny, nx = self.free.shape
        return ny, nx

    def cell_of(self, points: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(ix, iy) of each point, clipped to the grid."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.free.shape
        ix = np.clip(
            np.floor((p[:, 0] - self.origin_m[0]) / self.resolution_m).astype(np.int64), 0, nx - 1
        )
        iy = np.clip(
            np.floor((p[:, 1] - self.origin_m[1]) / self.resolution_m).astype(np.int64), 0, ny - 1
        )
        return ix, iy

    def cell_centre(self, ix: npt.ArrayLike, iy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x0, y0 = self.origin_m
        r = self.resolution_m
        return np.column_stack([x0 + (np.asarray(ix) + 0.5) * r, y0 + (np.asarray(iy) + 0.5) * r])

    def is_free(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) whether each point is walkable (inside the grid and free)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.free.shape
        x0, y0 = self.origin_m
        r = self.resolution_m
        inside = (
            (p[:, 0] >= x0) & (p[:, 1] >= y0) & (p[:, 0] < x0 + nx * r) & (p[:, 1] < y0 + ny * r)
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


def entrance_side(layout: Layout) -> str:
    """Which side of the outline holds the entrance: bottom, top, left or right."""
    return layout.entrance_side()


def _outline_wall(
    centres: npt.NDArray[np.float64], layout: Layout, thickness_m: float
) -> npt.NDArray[np.bool_]:
    """Cells on the store's outline, except those in the entrance gap."""
    x, y = centres[:, 0], centres[:, 1]
    w, h, t = layout.width_m, layout.height_m, thickness_m
    near_x = (np.abs(x) < t) | (np.abs(x - w) < t)
    near_y = (np.abs(y) < t) | (np.abs(y - h) < t)
    wall = (near_x & (y > -t) & (y < h + t)) | (near_y & (x > -t) & (x < w + t))
    if layout.entrance is not None:
        lo, hi = layout.entrance.min(axis=0), layout.entrance.max(axis=0)
        in_gap = (x >= lo[0] - 1e-9) & (x <= hi[0] + 1e-9) & (y >= lo[1] - t) & (y <= hi[1] + t)
        in_gap |= (y >= lo[1] - 1e-9) & (y <= hi[1] + 1e-9) & (x >= lo[0] - t) & (x <= hi[0] + t)
        wall &= ~in_gap
    return np.asarray(wall)
