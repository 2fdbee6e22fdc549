"""Shortest walking routes on the walkable grid, smoothed into natural straight legs.

Dijkstra on the 8-connected grid of free cells (no corner cutting) gives the
shortest route around obstacles; greedy string pulling then replaces runs of cells
by straight segments whose every point is checked free on the grid (sampled at
less than half a cell). Routes between the same two points are cached: shoppers
share destinations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from positioning.walkable import WalkableGrid
from sim.errors import SimError

__all__ = ["CHECK_STEP_CELLS", "FloatArray", "RoutePlanner"]

FloatArray = npt.NDArray[np.float64]
#: Segment check step as a fraction of a cell: fine enough that no blocked cell is skipped.
CHECK_STEP_CELLS = 0.4


class RoutePlanner:
    def __init__(self, grid: WalkableGrid) -> None:
        self.grid = grid
        ny, nx = grid.free.shape
        self._free_index = -np.ones(ny * nx, dtype=np.int64)
        free_flat = np.flatnonzero(grid.free.ravel())
        self._free_index[free_flat] = np.arange(len(free_flat))
        self._cells = free_flat
        self._graph = self._build_graph()
        self._pred: dict[int, npt.NDArray[np.int32]] = {}
        self._legs: dict[tuple[int, int], FloatArray] = {}

    def _build_graph(self) -> sparse.csr_matrix:
        free = self.grid.free
        ny, nx = free.shape
        r = self.grid.resolution_m
        rows: list[npt.NDArray[np.int64]] = []
        cols: list[npt.NDArray[np.int64]] = []
        weights: list[npt.NDArray[np.float64]] = []
        iy, ix = np.nonzero(free)
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            jy, jx = iy + dy, ix + dx
            ok = (jy >= 0) & (jy < ny) & (jx >= 0) & (jx < nx)
            ok[ok] &= free[jy[ok], jx[ok]]
            if dy and dx:  # diagonal: both orthogonal neighbours free, no corner cutting
                ok[ok] &= free[iy[ok] + dy, ix[ok]] & free[iy[ok], ix[ok] + dx]
            a = self._free_index[iy[ok] * nx + ix[ok]]
            b = self._free_index[jy[ok] * nx + jx[ok]]
            w = np.full(len(a), r * (np.sqrt(2.0) if dy and dx else 1.0))
            rows += [a, b]
            cols += [b, a]
            weights += [w, w]
        n = len(self._cells)
        return sparse.csr_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )

    def node(self, point: npt.ArrayLike) -> int:
        """The graph node of the free cell nearest to ``point``."""
        p = self.grid.nearest_free(np.asarray(point, dtype=np.float64).reshape(1, 2))
        ix, iy = self.grid.cell_of(p)
        return int(self._free_index[int(iy[0]) * self.grid.free.shape[1] + int(ix[0])])

    def position(self, node: int) -> FloatArray:
        ny, nx = self.grid.free.shape
        cell = int(self._cells[node])
        return np.asarray(self.grid.cell_centre(cell % nx, cell // nx)[0], dtype=np.float64)

    def route(self, a: int, b: int) -> FloatArray:
        """(K, 2) polyline from node a to node b, K >= 2, straight free legs."""
        key = (a, b)
        if key not in self._legs:
            self._legs[key] = self._smooth(self._cell_path(a, b))
        return self._legs[key]

    def _cell_path(self, a: int, b: int) -> FloatArray:
        if a not in self._pred:
            _, pred = csgraph.dijkstra(self._graph, indices=a, return_predecessors=True)
            self._pred[a] = pred.astype(np.int32)
        pred = self._pred[a]
        nodes = [b]
        while nodes[-1] != a:
            nxt = int(pred[nodes[-1]])
            if nxt < 0:
                start, end = self.position(a), self.position(b)
                raise SimError(
                    f"no walkable route from {start.round(2).tolist()} to {end.round(2).tolist()}: "
                    "the layout's obstacles cut the floor in parts"
                )
            nodes.append(nxt)
        nodes.reverse()
        ny, nx = self.grid.free.shape
        cells = self._cells[np.asarray(nodes)]
        return np.asarray(self.grid.cell_centre(cells % nx, cells // nx), dtype=np.float64)

    def clear(self, a: FloatArray, b: FloatArray) -> bool:
        """Whether the straight segment a->b stays on free cells."""
        r = self.grid.resolution_m
        n = int(np.ceil(np.hypot(*(b - a)) / (CHECK_STEP_CELLS * r))) + 1
        s = np.arange(n + 1) / n
        x0, y0 = self.grid.origin_m
        ix = np.floor((a[0] + s * (b[0] - a[0]) - x0) / r).astype(np.intp)
        iy = np.floor((a[1] + s * (b[1] - a[1]) - y0) / r).astype(np.intp)
        ny, nx = self.grid.free.shape
        if ix.min() < 0 or iy.min() < 0 or ix.max() >= nx or iy.max() >= ny:
            return False
        return bool(self.grid.free[iy, ix].all())

    def _smooth(self, path: FloatArray) -> FloatArray:
        """Greedy string pulling: from each anchor, jump to the farthest cell in clear view."""
        if len(path) <= 2:
            return path if len(path) == 2 else np.vstack([path, path])
        out = [path[0]]
        i = 0
        last = len(path) - 1
        while i < last:
            lo, hi = i + 1, last  # lo is always in view (adjacent cells)
            if self.clear(path[i], path[hi]):
                lo = hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if self.clear(path[i], path[mid]):
                    lo = mid
                else:
                    hi = mid
            out.append(path[lo])
            i = lo
        return np.asarray(out)
