"""Where a plan measures: the walkable floor on a lattice, and the door's two sides.

The door is seen by a shopper walking straight in from the middle of the entrance
(and from points across its width), against the street just outside: 1-3 m out and
up to 2 m to either side, where passers-by walk along the glass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.geometry import point_segment_distance
from positioning.layout import Layout
from positioning.walkable import WalkableGrid, entrance_side

__all__ = ["DOOR_DEPTHS_M", "Floor", "MAX_FLOOR_POINTS", "floor_of"]

FloatArray = npt.NDArray[np.float64]

#: Most lattice points a plan evaluates: the spacing grows past 0.5 m on large floors
#: (a 60 x 40 m supermarket gets ~0.8 m), which keeps a plan under a minute on one core.
MAX_FLOOR_POINTS = 4000
#: Depths (m) behind the door line at which a walking-in shopper is scored.
DOOR_DEPTHS_M = np.arange(0.25, 10.01, 0.25)
#: Street points a shopper just inside must be told from: depth out (m) x offset along the front (m).
STREET_DEPTHS_M = (1.0, 2.0, 3.0)
STREET_OFFSETS_M = (-2.0, 0.0, 2.0)
#: Entry lines across the door's width, and how far from the jambs they keep.
ENTRY_LINES = 5
JAMB_CLEARANCE_M = 0.3

_INWARD = {"bottom": (0.0, 1.0), "top": (0.0, -1.0), "left": (1.0, 0.0), "right": (-1.0, 0.0)}


@dataclass(frozen=True, slots=True)
class Floor:
    """Points the plan scores; every array's first axis indexes its points."""

    points_xy: FloatArray  # (P, 2) walkable lattice inside the store
    spacing_m: float
    zone: npt.NDArray[np.int64]  # (P,) zone index, -1 outside every zone
    zone_margin_m: FloatArray  # (P,) distance to the own zone's edge (inf outside zones)
    door_in_xy: FloatArray  # (L, D, 2) entry line l at depth DOOR_DEPTHS_M[d]
    door_out_xy: FloatArray  # (L, S, 2) street points facing entry line l
    inward: FloatArray  # (2,) unit vector from the street into the store

    @property
    def has_door(self) -> bool:
        return len(self.door_in_xy) > 0


def floor_of(layout: Layout, max_points: int = MAX_FLOOR_POINTS) -> Floor:
    grid = WalkableGrid.from_layout(layout)
    free_area = grid.free.sum() * grid.resolution_m**2
    spacing = max(0.5, float(np.sqrt(free_area / max_points)))
    stride = max(1, int(round(spacing / grid.resolution_m)))
    iy, ix = np.nonzero(grid.free)
    keep = (ix % stride == 0) & (iy % stride == 0)
    points = grid.cell_centre(ix[keep], iy[keep])
    zone = layout.zone_of(points)
    margin = np.full(len(points), np.inf)
    for z, polygon in enumerate(layout.zones):
        mine = zone == z
        ring = polygon.polygon
        edges = [
            point_segment_distance(points[mine], a, b)
            for a, b in zip(ring, np.roll(ring, -1, axis=0), strict=True)
        ]
        margin[mine] = np.min(edges, axis=0)
    door_in, door_out, inward = _door(layout)
    return Floor(points, stride * grid.resolution_m, zone, margin, door_in, door_out, inward)


def _door(layout: Layout) -> tuple[FloatArray, FloatArray, FloatArray]:
    if layout.entrance is None:
        return np.empty((0, len(DOOR_DEPTHS_M), 2)), np.empty((0, 9, 2)), np.zeros(2)
    inward = np.asarray(_INWARD[entrance_side(layout)])
    a, b = layout.entrance
    along = (b - a) / np.linalg.norm(b - a)
    width = float(np.linalg.norm(b - a))
    clear = min(JAMB_CLEARANCE_M, width / 4)
    offsets = np.linspace(clear, width - clear, ENTRY_LINES)
    starts = a + offsets[:, None] * along
    door_in = starts[:, None, :] + DOOR_DEPTHS_M[None, :, None] * inward
    street = np.array([(-d, s) for d in STREET_DEPTHS_M for s in STREET_OFFSETS_M])
    door_out = starts[:, None, :] + street[None, :, :1] * inward + street[None, :, 1:] * along
    # keep the walk-in path on the floor: a point beyond the far wall is clipped to it
    door_in[..., 0] = np.clip(door_in[..., 0], 0.1, layout.width_m - 0.1)
    door_in[..., 1] = np.clip(door_in[..., 1], 0.1, layout.height_m - 0.1)
    return door_in, door_out, inward
