"""Door evidence: inside versus street, a grid Bayes filter over the shop front.

The particle cloud's ``p_inside`` lags the radio: 128 particles spread over a shop are
few at the door, they cross the front only through the door opening (or by an occasional
jump across the glass), and the street hypothesis is kept for a passer-by's transit
(docs/planning.md, "Measured"). One epoch's readings hardly tell the two sides apart (the
tracker's likelihood is flat across the front: the phone's gain is unknown, shadowing
does not average down); the evidence is in how they change as a person walks in, which
``planning.information`` sums as a likelihood ratio of "just inside" against "just
outside". This module accumulates that ratio exactly, with the tracker's own radio model:

- the state is a lattice of walkable cells (``spacing_m``) in a band on both sides of the
  shop front: the street band and the floor within ``band_m`` of the front (a deeper
  device fits the band's back row better than the street: inside either way);
- each epoch the belief moves by a walking kernel (a normal step of ``step_sigma_m`` per
  second), and crosses the glass only through the entrance; elsewhere a step across the
  front has probability ``glass_leak`` (the tracker's front jump);
- it is then weighted by the tracker's likelihood of the epoch's readings at each cell
  (:meth:`TrackerRadio.loglik`), tempered by ``temper``;
- ``p_door`` is the belief's mass inside.

A hidden Markov model over a few hundred cells is exact where the particle filter samples,
and costs about as much as a particle update (a 30 m front: ~300 cells).

:func:`pooled_inside` combines ``p_door`` with the particle estimate in a logarithmic
opinion pool: both are posteriors from the same readings, so their log-odds are averaged
with weights (``weight`` on the door), not added (adding would count the readings twice).
Weight 0 (the default) is the particle estimate alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from positioning.layout import Layout
from positioning.tracker.radio import TrackerRadio
from positioning.tracker.state import Readings, front_line
from positioning.walkable import WalkableGrid

__all__ = ["DoorEvidence", "DoorParams", "door_cells", "pooled_inside"]


F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Probabilities are kept this far from 0 and 1 before taking log-odds.
_P_EPS = 1e-6
#: Longest gap the walking kernel is applied over, epochs: after it the belief is flat on
#: its side mix anyway (the tracker reinitialises after 15 s unheard).
_MAX_STEPS = 8


@dataclass(frozen=True, slots=True)
class DoorParams:
    """Knobs of the door evidence; ``weight`` 0 turns it off."""

    #: Weight of the door evidence in the pool with the particle estimate (0-1). 0: off.
    weight: float = 0.0
    #: Depth of the floor band behind the shop front in the state, m.
    band_m: float = 6.0
    #: Lattice spacing of the cells, m: 1 m keeps the cost near a particle update.
    spacing_m: float = 1.0
    #: Walking step per second, 1-sigma per axis, m: shoppers walk ~1.1-1.3 m/s.
    step_sigma_m: float = 1.0
    #: Probability that a step crossing the front away from the entrance is allowed
    #: (the glass: only a model error makes a person pass it).
    glass_leak: float = 0.01
    #: Tempering of each epoch's log-likelihood (0-1): consecutive epochs share the slow
    #: shadowing (~4 dB, simulator), so they are not independent evidence.
    temper: float = 1.0


def door_cells(layout: Layout, grid: WalkableGrid, params: DoorParams) -> tuple[F32, BoolArray]:
    """(C, 2) cells of the door state on a lattice of about ``spacing_m`` over the walkable
    grid (the street band and the floor within ``band_m`` of the front), and (C,) whether
    each is inside. Empty without an entrance (a place without a street)."""
    axis, coord = front_line(layout)
    if axis < 0:
        return np.zeros((0, 2), np.float32), np.zeros(0, bool)
    stride = max(1, int(round(params.spacing_m / grid.resolution_m)))
    iy, ix = np.nonzero(grid.free)
    keep = (ix % stride == stride // 2) & (iy % stride == stride // 2)
    xy = grid.cell_centre(ix[keep], iy[keep]).astype(np.float64)
    inside = layout.contains(xy)
    keep_cell = ~inside | (np.abs(xy[:, axis] - coord) <= params.band_m)
    return xy[keep_cell].astype(np.float32), np.asarray(inside[keep_cell])


def walking_kernel(
    layout: Layout, xy: F32, inside: BoolArray, params: DoorParams
) -> sparse.csr_matrix:
    """(C, C) row-stochastic one-second transition between cells: a normal step, through
    the entrance only (``glass_leak`` elsewhere)."""
    axis, _ = front_line(layout)
    assert layout.entrance is not None
    along = 1 - axis
    lo, hi = np.sort(layout.entrance[:, along])
    d = xy[:, None, :].astype(np.float64) - xy[None, :, :]
    d2 = np.sum(d * d, axis=-1)
    w = np.exp(-0.5 * d2 / params.step_sigma_m**2) * (d2 <= (3.0 * params.step_sigma_m) ** 2)
    mid = 0.5 * (xy[:, None, along].astype(np.float64) + xy[None, :, along])
    through_door = (mid >= lo) & (mid <= hi)
    crossing = inside[:, None] != inside[None, :]
    w = np.where(crossing & ~through_door, w * params.glass_leak, w)
    w /= w.sum(axis=1, keepdims=True)
    return sparse.csr_matrix(w)


def pooled_inside(p_particles: F64, p_door: F64, weight: float) -> F64:
    """(M,) logarithmic opinion pool of the particle estimate and the door evidence:
    log-odds averaged with ``weight`` on the door. Weight 0 returns ``p_particles``."""
    if weight <= 0.0:
        return p_particles
    a = np.clip(p_particles, _P_EPS, 1.0 - _P_EPS)
    b = np.clip(p_door, _P_EPS, 1.0 - _P_EPS)
    logit = (1.0 - weight) * np.log(a / (1.0 - a)) + weight * np.log(b / (1.0 - b))
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


class DoorEvidence:
    """Per device slot, a belief over the door cells; :meth:`update` per epoch."""

    def __init__(self, layout: Layout, grid: WalkableGrid, params: DoorParams) -> None:
        self.params = params
        self.xy, self.inside = door_cells(layout, grid, params)
        #: whether there is anything to tell apart (an entrance and cells on both sides)
        self.enabled = (
            params.weight > 0.0 and bool(self.inside.any()) and bool((~self.inside).any())
        )
        n_in, n_out = max(int(self.inside.sum()), 1), max(int((~self.inside).sum()), 1)
        # the tracker's start prior: half the mass in the street, half inside
        self._start = np.where(self.inside, 0.5 / n_in, 0.5 / n_out).astype(np.float32)
        self._kernel_t = (
            walking_kernel(layout, self.xy, self.inside, params).T.tocsr() if self.enabled else None
        )
        self._belief: F32 = np.zeros((0, len(self.xy)), np.float32)

    def _grow(self, slots: IntArray) -> None:
        if len(slots) and int(slots.max()) >= len(self._belief):
            n = max(int(slots.max()) + 1, 2 * len(self._belief))
            grown = np.zeros((n, len(self.xy)), np.float32)
            grown[: len(self._belief)] = self._belief
            self._belief = grown

    def update(
        self, radio: TrackerRadio, slots: IntArray, new: BoolArray, dt_s: F64, r: Readings
    ) -> F64:
        """(M,) ``p_door`` of the devices in ``slots`` after this epoch's readings ``r``;
        ``new`` devices start from the start prior, the others first walk for ``dt_s`` (M,)."""
        assert self._kernel_t is not None
        self._grow(slots)
        prior = np.where(new[:, None], self._start[None, :], self._belief[slots]).T  # (C, M)
        steps = np.clip(np.rint(dt_s), 0, _MAX_STEPS).astype(np.int64)
        for k in range(1, int(steps.max(initial=0)) + 1):
            moving = steps >= k
            prior[:, moving] = self._kernel_t @ prior[:, moving]
        ll = radio.loglik(np.broadcast_to(self.xy, (len(slots), *self.xy.shape)), r)
        logp = np.log(np.maximum(prior.T.astype(np.float64), 1e-30))
        logp += ll.astype(np.float64) * self.params.temper
        logp -= logp.max(axis=1, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(axis=1, keepdims=True)
        self._belief[slots] = post.astype(np.float32)
        return np.asarray(post[:, self.inside].sum(axis=1))
