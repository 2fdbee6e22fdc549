"""Plane geometry on numpy arrays: point in polygon, segment crossings, polygon checks.

Every function is vectorised over points or segments; polygons are (M, 2) arrays of
vertices in metres, implicitly closed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "as_polygon",
    "count_crossed",
    "point_segment_distance",
    "points_in_polygon",
    "polygon_area",
    "polygon_is_simple",
    "segments_cross_polygon",
]


FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def as_polygon(vertices: npt.ArrayLike) -> FloatArray:
    """Vertices as a float (M, 2) array, without a repeated closing vertex."""
    p = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)
    if len(p) > 1 and np.allclose(p[0], p[-1]):
        p = p[:-1]
    return p


def polygon_area(polygon: FloatArray) -> float:
    """Unsigned area (shoelace formula)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def points_in_polygon(points: npt.ArrayLike, polygon: FloatArray) -> BoolArray:
    """Even-odd ray casting. points (N, 2) -> (N,) bool; points on an edge may go either way."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    px, py = pts[:, 0:1], pts[:, 1:2]  # (N, 1) against (M,) edges
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    hits = straddles & (px < x_cross)
    return np.asarray(np.count_nonzero(hits, axis=1) % 2 == 1)


def _orient(
    ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray, cx: FloatArray, cy: FloatArray
) -> FloatArray:
    return np.asarray((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))


def segments_cross_polygon(a: npt.ArrayLike, b: npt.ArrayLike, polygon: FloatArray) -> BoolArray:
    """Whether each segment a[i]→b[i] touches the polygon's boundary or lies inside it.

    a, b: (N, 2). Proper crossings of any edge count, and so does a segment with an
    end inside the polygon. Returns (N,) bool.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    ax, ay = a[:, 0:1], a[:, 1:2]
    bx, by = b[:, 0:1], b[:, 1:2]
    cx, cy = polygon[:, 0], polygon[:, 1]
    dx, dy = np.roll(cx, -1), np.roll(cy, -1)
    o1 = _orient(ax, ay, bx, by, cx, cy)
    o2 = _orient(ax, ay, bx, by, dx, dy)
    o3 = _orient(cx, cy, dx, dy, ax, ay)
    o4 = _orient(cx, cy, dx, dy, bx, by)
    crossing = ((o1 > 0) != (o2 > 0)) & ((o3 > 0) != (o4 > 0)) & (o1 * o2 <= 0) & (o3 * o4 <= 0)
    any_edge = np.any(crossing, axis=1)
    return np.asarray(any_edge | points_in_polygon(a, polygon) | points_in_polygon(b, polygon))


def count_crossed(
    a: npt.ArrayLike, b: npt.ArrayLike, polygons: Sequence[FloatArray]
) -> npt.NDArray[np.int64]:
    """How many of ``polygons`` each segment a[i]→b[i] passes through. (N,) int."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    counts = np.zeros(len(a), dtype=np.int64)
    for poly in polygons:
        counts += segments_cross_polygon(a, b, poly)
    return counts


def polygon_is_simple(polygon: FloatArray) -> bool:
    """True when no two non-adjacent edges intersect (the polygon does not cross itself)."""
    m = len(polygon)
    if m < 3:
        return False
    start = polygon
    end = np.roll(polygon, -1, axis=0)
    for i in range(m):
        for j in range(i + 1, m):
            if j == i + 1 or (i == 0 and j == m - 1):
                continue  # adjacent edges share a vertex
            if _segments_intersect(start[i], end[i], start[j], end[j]):
                return False
    return True


def _segments_intersect(p1: FloatArray, p2: FloatArray, q1: FloatArray, q2: FloatArray) -> bool:
    def orient(a: FloatArray, b: FloatArray, c: FloatArray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    def on_segment(a: FloatArray, b: FloatArray, c: FloatArray) -> bool:
        return bool(
            min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 * d2 < 0 and d3 * d4 < 0:
        return True
    eps = 1e-12
    return (
        (abs(d1) < eps and on_segment(q1, q2, p1))
        or (abs(d2) < eps and on_segment(q1, q2, p2))
        or (abs(d3) < eps and on_segment(p1, p2, q1))
        or (abs(d4) < eps and on_segment(p1, p2, q2))
    )


def point_segment_distance(points: npt.ArrayLike, a: FloatArray, b: FloatArray) -> FloatArray:
    """Distance from each point (N, 2) to the segment a→b. (N,)"""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ab = b - a
    denom = float(np.dot(ab, ab)) or 1e-12
    t = np.clip(((p - a) @ ab) / denom, 0.0, 1.0)
    closest = a + t[:, None] * ab
    return np.asarray(np.hypot(*(p - closest).T))
