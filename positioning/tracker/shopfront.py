"""The shop front as the tracker sees it: the street band in front of the store, the
glass between it and the floor, and the probability that a device is inside.

The walkable grid of the tracker includes a street band in front of the entrance side,
so passers-by are located outside. Just behind the glass and just outside it look
alike to the radio (the glass costs ~3 dB, shadowing is ~4 dB and does not average
down), so three things help the particle filter keep the two sides apart
(docs/positioning.md, tracker item 6):

- a start prior that gives the street and the floor equal mass whatever their sizes
  (footfall outnumbers visits);
- a street prior for tracks heard longer than a passer-by is (a passer-by is heard
  for well under a minute): the street particles of such a device lose weight;
- the mean of a cloud split by the glass is taken on the side holding most of the
  weight (the average of the two sides is a point on the glass, where nobody is).

``p_inside`` is the posterior weight of the particles inside the store outline.

A layout without an entrance (a lab, a back room, a flat) has no street (ARCHITECTURE
3.1): no cell is outside, the start prior is uniform over the floor, nothing is penalised,
and ``p_inside`` is 1. (The grid's last row and column may reach up to a cell past the
outline; they are floor, not street, there.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.tracker.particles import FloorMap, weighted_mean, weighted_mean_and_sigma
from positioning.walkable import WalkableGrid

__all__ = ["ShopFront"]


F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class ShopFront:
    """Street cells of the tracker's grid and the shop-front rules over particle clouds."""

    def __init__(self, layout: Layout, grid: WalkableGrid, floor: FloorMap) -> None:
        ny, nx = grid.free.shape
        iy, ix = np.divmod(np.arange(nx * ny), nx)
        #: whether there is a street at all: not without an entrance
        self.has_street = layout.entrance is not None
        #: (cells,) True outside the store outline (the street band)
        self.street: BoolArray = ~layout.contains(grid.cell_centre(ix, iy)) & self.has_street
        self.floor = floor

    def start_prior(self, layout: Layout, points: F32) -> F32:
        """(P,) log prior of start points: half the mass in the street, half inside
        (uniform without a street)."""
        out = ~layout.contains(points.astype(np.float64)) & self.has_street
        n_out, n_in = max(int(out.sum()), 1), max(int((~out).sum()), 1)
        return np.where(out, -np.log(n_out), -np.log(n_in)).astype(np.float32)

    def outside(self, pos: F32) -> BoolArray:
        """(M, N) whether each particle stands in the street."""
        cell, _ = self.floor.cell(pos)
        return np.take(self.street, cell)

    def summarise(self, pos: F32, w: F32, outside: BoolArray | None = None) -> tuple[F64, F64, F64]:
        """Each cloud's (M, 2) mean, (M,) 1-sigma radius and (M,) probability of being inside.

        ``p_inside`` is the weight of the particles past the front (inside the outline).
        The mean is taken on the side of the front holding most of the weight: the
        average of a cloud split by the glass is a point on it, where nobody is; the
        radius still counts both sides. ``outside``: :meth:`outside` of ``pos``, if known.
        """
        _, sigma = weighted_mean_and_sigma(pos, w)
        out = self.outside(pos) if outside is None else outside
        w_out = np.asarray(np.sum(w * out, axis=1, dtype=np.float64))
        return self._side_mean(pos, w, out, w_out), sigma, np.clip(1.0 - w_out, 0.0, 1.0)

    def mean(self, pos: F32, w: F32, outside: BoolArray | None = None) -> F64:
        """The mean of :meth:`summarise` alone."""
        out = self.outside(pos) if outside is None else outside
        w_out = np.asarray(np.sum(w * out, axis=1, dtype=np.float64))
        return self._side_mean(pos, w, out, w_out)

    @staticmethod
    def _side_mean(pos: F32, w: F32, out: BoolArray, w_out: F64) -> F64:
        heavier_out = np.asarray(w_out > 0.5)
        side = np.where(heavier_out[:, None], out, ~out)
        ws = w * side
        return weighted_mean(pos, ws / np.maximum(ws.sum(axis=1, keepdims=True), 1e-30))

    def street_penalty(
        self, pos: F32, w: F32, still: BoolArray, street_s: F64, nats_per_s: float
    ) -> tuple[F32, BoolArray]:
        """(M, N) log-weight penalty of street particles for tracks heard ``street_s`` (M,)
        seconds past a passer-by's transit, and (M,) whether the cloud stands outside
        (most of its weight standing still in the street: counted as lost, so it is
        redrawn in part from the likelihood over the whole floor and the inside
        hypothesis exists)."""
        out = self.outside(pos)
        rate = np.float32(nats_per_s) * street_s.astype(np.float32)
        penalty = out * rate[:, None]
        return penalty.astype(np.float32), np.asarray(np.sum(w * (out & still), axis=1) > 0.5)
