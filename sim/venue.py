"""Where people go in a store: street lanes, stop points at the goods, fitting rooms, tills.

Points are graph nodes of the :class:`~sim.routes.RoutePlanner`, drawn once per seed
and shared by everyone, so routes between them are computed once and cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.geometry import point_segment_distance, points_in_polygon
from positioning.layout import Layout
from positioning.walkable import WalkableGrid, entrance_side
from sim.errors import SimError
from sim.routes import RoutePlanner

__all__ = [
    "AT_GOODS_M",
    "CHECKOUT_NAMES",
    "FITTING_WORD",
    "FloatArray",
    "LANE_FRACTIONS",
    "QUEUE_SPACING_M",
    "QUEUE_SPOTS",
    "TILLS",
    "TILL_SPACING_M",
    "Venue",
    "grid_clearance",
]

FloatArray = npt.NDArray[np.float64]
#: Zone names read as the checkout and as fitting rooms (case-insensitive).
CHECKOUT_NAMES = ("checkout", "counter", "till", "tills", "cashier", "cash_desk")
FITTING_WORD = "fitting"
#: Within this distance of an obstacle a free cell is "at the goods" (arm's reach + step).
AT_GOODS_M = 0.9
#: A checkout queue: spots one person apart (personal space in a queue ~0.8 m).
QUEUE_SPOTS = 6
QUEUE_SPACING_M = 0.8
#: Till positions along a counter, one cashier every 1.5 m at most.
TILLS = 3
TILL_SPACING_M = 1.5
#: Street lanes (distance from the shop front, as fractions of the street depth).
LANE_FRACTIONS = (0.3, 0.5, 0.7)


@dataclass(frozen=True, slots=True)
class Venue:
    layout: Layout
    grid: WalkableGrid
    planner: RoutePlanner
    street_ends: tuple[tuple[int, int], ...]  # per lane: (node at one end, node at the other)
    zone_stops: dict[str, tuple[int, ...]]  # browsable zones -> stop nodes
    fitting: tuple[int, ...]
    queue: tuple[int, ...]  # queue spots, the head (nearest the tills) first
    tills: tuple[int, ...]
    inward: FloatArray  # unit normal of the shop front, pointing into the store
    front_offset_m: float  # inward . p == front_offset_m on the shop front line

    @classmethod
    def build(
        cls, layout: Layout, grid: WalkableGrid, stops_per_zone: int, rng: np.random.Generator
    ) -> Venue:
        if layout.entrance is None:
            raise SimError(f"{layout.source}: store.entrance: the simulator needs an entrance")
        planner = RoutePlanner(grid)
        side = entrance_side(layout)
        inward, front = _front(layout, side)
        depth = -float(min(grid.origin_m[0], grid.origin_m[1], 0.0)) or _far_depth(
            layout, grid, side
        )
        ends = tuple(
            (planner.node(_street_point(layout, side, 0.3, f * depth)),
             planner.node(_street_point(layout, side, _side_length(layout, side) - 0.3, f * depth)))
            for f in LANE_FRACTIONS
        )  # fmt: skip
        zone_stops: dict[str, tuple[int, ...]] = {}
        fitting: tuple[int, ...] = ()
        queue: tuple[int, ...] = ()
        tills: tuple[int, ...] = ()
        for zone in layout.zones:
            cells = _zone_cells(grid, zone.polygon)
            if len(cells) == 0:
                continue
            name = zone.name.lower()
            near = grid_clearance(grid, cells) < AT_GOODS_M
            if name in CHECKOUT_NAMES:
                tills, queue = _checkout(layout, planner, cells, zone.polygon)
            elif FITTING_WORD in name:
                fitting = _pick(planner, cells, 4, rng)
            elif name != "entrance":
                pool = cells[near] if near.sum() >= stops_per_zone else cells
                zone_stops[zone.name] = _pick(planner, pool, stops_per_zone, rng)
        if not zone_stops:
            inside = _zone_cells(grid, layout.outline)
            zone_stops["store"] = _pick(planner, inside, stops_per_zone, rng)
        return cls(layout, grid, planner, ends, zone_stops, fitting, queue, tills, inward, front)

    def is_inside(self, xy: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether points are on the store side of the shop front."""
        return np.asarray(xy @ self.inward > self.front_offset_m)


def grid_clearance(grid: WalkableGrid, cells: FloatArray) -> FloatArray:
    ix, iy = grid.cell_of(cells)
    return np.asarray(grid.clearance_to_obstacle_m[iy, ix], dtype=np.float64)


def _checkout(
    layout: Layout, planner: RoutePlanner, cells: FloatArray, zone: FloatArray
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Tills on the customer side of the zone's counters and one queue line leading to them.

    The customer side of a counter is the long side facing the middle of the store; the
    queue runs from the tills straight away from the counter, a spot every QUEUE_SPACING_M.
    """
    centre = np.asarray([layout.width_m / 2.0, layout.height_m / 2.0])
    counters = [
        o.polygon
        for o in layout.obstacles
        if o.kind == "counter" and points_in_polygon(o.polygon.mean(axis=0)[None, :], zone)[0]
    ]
    tills: list[FloatArray] = []
    towards = centre - cells.mean(axis=0)
    for counter in counters:
        hub = counter.mean(axis=0)
        long_axis, normal, half_length = _axes(counter)
        normal = normal * (1.0 if (centre - hub) @ normal >= 0 else -1.0)
        rel = cells - hub
        reach = np.min(
            [
                point_segment_distance(cells, a, b)
                for a, b in zip(counter, np.roll(counter, -1, axis=0), strict=True)
            ],
            axis=0,
        )
        ok = (rel @ normal > 0) & (np.abs(rel @ long_axis) <= half_length) & (reach < AT_GOODS_M)
        order = np.argsort(np.abs(rel[ok] @ long_axis), kind="stable")
        tills += list(_spaced(cells[ok][order], TILL_SPACING_M, max(1, TILLS // len(counters))))
        if len(tills) and counter is counters[0]:
            towards = normal
    if not tills:
        tills = list(
            _spaced(cells[np.argsort(np.hypot(*(cells - cells.mean(axis=0)).T))], TILL_SPACING_M, 2)
        )
    towards = towards / max(float(np.hypot(*towards)), 1e-9)
    head = np.mean(tills, axis=0) + towards * QUEUE_SPACING_M
    queue: list[int] = []
    for k in range(QUEUE_SPOTS):
        node = planner.node(head + towards * k * QUEUE_SPACING_M)
        if node not in queue:
            queue.append(node)
    return tuple(planner.node(xy) for xy in tills), tuple(queue)


def _axes(polygon: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """Unit long axis, unit normal and half length of a polygon (principal axes of its vertices)."""
    rel = polygon - polygon.mean(axis=0)
    _, vectors = np.linalg.eigh(rel.T @ rel)
    long_axis = vectors[:, -1]
    normal = np.asarray([-long_axis[1], long_axis[0]])
    return long_axis, normal, float(np.abs(rel @ long_axis).max())


def _spaced(points: FloatArray, spacing_m: float, n: int) -> FloatArray:
    """Up to n of the points, in order, each at least spacing_m from those kept."""
    kept: list[FloatArray] = []
    for p in points:
        if all(np.hypot(*(p - q)) >= spacing_m for q in kept):
            kept.append(p)
            if len(kept) == n:
                break
    return np.asarray(kept)


def _zone_cells(grid: WalkableGrid, polygon: FloatArray) -> FloatArray:
    iy, ix = np.nonzero(grid.free)
    centres = grid.cell_centre(ix, iy)
    return np.asarray(centres[points_in_polygon(centres, polygon)], dtype=np.float64)


def _pick(
    planner: RoutePlanner, cells: FloatArray, n: int, rng: np.random.Generator
) -> tuple[int, ...]:
    idx = rng.choice(len(cells), size=min(n, len(cells)), replace=False)
    return tuple(sorted({planner.node(cells[i]) for i in np.sort(idx)}))


def _side_length(layout: Layout, side: str) -> float:
    return layout.width_m if side in ("bottom", "top") else layout.height_m


def _street_point(layout: Layout, side: str, along_m: float, out_m: float) -> FloatArray:
    w, h = layout.width_m, layout.height_m
    point = {
        "bottom": (along_m, -out_m),
        "top": (along_m, h + out_m),
        "left": (-out_m, along_m),
        "right": (w + out_m, along_m),
    }[side]
    return np.asarray(point, dtype=np.float64)


def _front(layout: Layout, side: str) -> tuple[FloatArray, float]:
    normal = {"bottom": (0, 1), "top": (0, -1), "left": (1, 0), "right": (-1, 0)}[side]
    n = np.asarray(normal, dtype=np.float64)
    offset = {"bottom": 0.0, "top": -layout.height_m, "left": 0.0, "right": -layout.width_m}[side]
    return n, offset


def _far_depth(layout: Layout, grid: WalkableGrid, side: str) -> float:
    ny, nx = grid.free.shape
    r = grid.resolution_m
    if side == "top":
        return grid.origin_m[1] + ny * r - layout.height_m
    return grid.origin_m[0] + nx * r - layout.width_m
