"""Where a radio may be hung: the mounting rules a plan searches within.

- ``outline``: on the outer walls, 0.2 m in, every 1.5 m, at 2.5 m (above the racks);
- ``shelves``: on top of each shelf, every 2 m along it, at 1.8 m;
- ``ceiling``: a ceiling grid every 2.5 m over the floor, at the layout's beacon height;
- ``door``: on the door frame, inside the glass (over the middle of the entrance and on
  both jambs at 2.2 m, on the jambs at 1.2 m, hand height), and on the ceiling 1.5 m and
  3 m behind the door line. A radio exactly on the door line is as close to a phone
  1 m inside as to one 1 m outside: only the radios behind it tell the two apart (the
  glass lowers every radio alike, which an unknown phone gain explains away).

- ``street``: facing the street, outside the glass (ARCHITECTURE 3.1: a beacon may hang
  in the street band in front of the entrance): on the outside of the door frame (over
  the middle of the entrance and on both jambs at 2.2 m) and on the fascia above the
  window, every 1.5 m along the shop front at 2.5 m. The street hears it without the
  glass and the floor through it: unlike the glass in front of every inside radio, that
  is a difference between radios, which an unknown phone gain cannot explain away.
  Offered when asked for (not in ``DEFAULT_RULES``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planning.errors import PlanningError
from positioning.geometry import points_in_polygon
from positioning.layout import Layout
from positioning.walkable import entrance_side

__all__ = ["DEFAULT_RULES", "MOUNTING_RULES", "Candidate", "candidates", "parse_rules"]

FloatArray = npt.NDArray[np.float64]

MOUNTING_RULES = ("outline", "shelves", "ceiling", "door", "street")
#: The rules a plan searches unless told otherwise. ``street`` is asked for explicitly: the
#: plan's radio model prizes a radio facing the street above all, but the engine as shipped
#: (the glass not modelled, tracker ``shopfront_walls`` 0) turns it into a shorter enter
#: latency in the fashion store only (docs/planning.md, "A radio facing the street").
DEFAULT_RULES = ("outline", "shelves", "ceiling", "door")
WALL_INSET_M = 0.2
WALL_STEP_M = 1.5
WALL_HEIGHT_M = 2.5
SHELF_STEP_M = 2.0
SHELF_TOP_M = 1.8
CEILING_STEP_M = 2.5
LINTEL_M = 2.2
HAND_HEIGHT_M = 1.2
DOOR_INSET_M = 0.1
#: Depths behind the door line of the ceiling spots the door rule also offers, metres.
DOOR_DEPTHS_M = (1.5, 3.0)
#: How far out of the glass a radio facing the street hangs: a bracket on the door frame
#: or the fascia, metres.
STREET_OUT_M = 0.2
#: Candidates closer than this to a hung radio add little and are dropped, metres.
MIN_SPACING_M = 1.0

_INWARD = {"bottom": (0.0, 1.0), "top": (0.0, -1.0), "left": (1.0, 0.0), "right": (-1.0, 0.0)}


@dataclass(frozen=True, slots=True)
class Candidate:
    x_m: float
    y_m: float
    z_m: float
    rule: str

    def describe(self) -> str:
        return f"({self.x_m:.1f}, {self.y_m:.1f}) at {self.z_m:.1f} m, {self.rule}"


def parse_rules(text: str) -> tuple[str, ...]:
    rules = tuple(r.strip() for r in text.split(",") if r.strip())
    bad = [r for r in rules if r not in MOUNTING_RULES]
    if bad or not rules:
        raise PlanningError(
            f"--mount: unknown rule(s) {', '.join(bad) or '(none)'}; use {', '.join(MOUNTING_RULES)}"
        )
    return rules


def candidates(
    layout: Layout, rules: tuple[str, ...], ceiling_m: float, taken_xy: FloatArray
) -> list[Candidate]:
    """Every mounting point the rules allow, away from obstacles' footprints and hung radios."""
    found: list[Candidate] = []
    if "outline" in rules:
        found += [Candidate(x, y, WALL_HEIGHT_M, "outline") for x, y in _wall_points(layout)]
    if "shelves" in rules:
        found += [Candidate(x, y, SHELF_TOP_M, "shelves") for x, y in _shelf_points(layout)]
    if "ceiling" in rules:
        found += [Candidate(x, y, ceiling_m, "ceiling") for x, y in _ceiling_points(layout)]
    if "door" in rules:
        found += _door_points(layout, ceiling_m)
    if "street" in rules:
        found += _street_points(layout)
    keep = []
    for c in found:
        xy = np.array([c.x_m, c.y_m])
        if c.rule not in ("shelves",) and _in_obstacle(layout, xy):
            continue
        if (
            len(taken_xy)
            and np.min(np.hypot(*(taken_xy - xy).T)) < MIN_SPACING_M
            and c.rule not in ("door", "street")
        ):
            continue
        keep.append(c)
    return keep


def _wall_points(layout: Layout) -> list[tuple[float, float]]:
    w, h, i = layout.width_m, layout.height_m, WALL_INSET_M
    xs = np.arange(i, w - i + 1e-9, WALL_STEP_M)
    ys = np.arange(i + WALL_STEP_M, h - i - WALL_STEP_M + 1e-9, WALL_STEP_M)
    points = [(x, y) for x in xs for y in (i, h - i)] + [(x, y) for y in ys for x in (i, w - i)]
    return [(float(x), float(y)) for x, y in points]


def _shelf_points(layout: Layout) -> list[tuple[float, float]]:
    points = []
    for o in layout.obstacles:
        if o.kind != "shelf":
            continue
        lo, hi = o.polygon.min(axis=0), o.polygon.max(axis=0)
        long_x = hi[0] - lo[0] >= hi[1] - lo[1]
        a, b = (lo[0], hi[0]) if long_x else (lo[1], hi[1])
        n = max(1, int(round((b - a) / SHELF_STEP_M)))
        for s in a + (np.arange(n) + 0.5) * (b - a) / n:
            mid = (lo + hi) / 2
            points.append((float(s), float(mid[1])) if long_x else (float(mid[0]), float(s)))
    return points


def _ceiling_points(layout: Layout) -> list[tuple[float, float]]:
    s = CEILING_STEP_M
    xs = np.arange(s / 2, layout.width_m, s)
    ys = np.arange(s / 2, layout.height_m, s)
    return [(float(x), float(y)) for x in xs for y in ys]


def _door_points(layout: Layout, ceiling_m: float) -> list[Candidate]:
    if layout.entrance is None:
        return []
    inward = np.asarray(_INWARD[entrance_side(layout)])
    a, b = layout.entrance
    spots = [(a, DOOR_INSET_M, HAND_HEIGHT_M), (b, DOOR_INSET_M, HAND_HEIGHT_M)]
    spots += [(where, DOOR_INSET_M, LINTEL_M) for where in (a, (a + b) / 2, b)]
    spots += [(where, depth, ceiling_m) for depth in DOOR_DEPTHS_M for where in (a, (a + b) / 2, b)]
    out = []
    for where, depth, z in spots:
        x, y = np.clip(where + depth * inward, 0.0, [layout.width_m, layout.height_m])
        out.append(Candidate(float(x), float(y), z, "door"))
    return out


def _street_points(layout: Layout) -> list[Candidate]:
    """The door frame's outside at the lintel height and the fascia along the shop front."""
    if layout.entrance is None:
        return []
    side = entrance_side(layout)
    inward = np.asarray(_INWARD[side])
    a, b = layout.entrance
    spots = [(where, LINTEL_M) for where in (a, (a + b) / 2, b)]
    length = layout.width_m if side in ("bottom", "top") else layout.height_m
    along = np.abs(np.asarray(_INWARD[side])[::-1])  # unit vector along the front
    start = {"bottom": (0.0, 0.0), "top": (0.0, layout.height_m)}.get(
        side, (0.0, 0.0) if side == "left" else (layout.width_m, 0.0)
    )
    for s in np.arange(WALL_INSET_M, length - WALL_INSET_M + 1e-9, WALL_STEP_M):
        spots.append((np.asarray(start) + s * along, WALL_HEIGHT_M))
    out = []
    for where, z in spots:
        x, y = np.asarray(where, dtype=np.float64) - STREET_OUT_M * inward
        out.append(Candidate(float(x), float(y), z, "street"))
    return out


def _in_obstacle(layout: Layout, xy: FloatArray) -> bool:
    return any(bool(points_in_polygon(xy[None, :], o.polygon)[0]) for o in layout.obstacles)
