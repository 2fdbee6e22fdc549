"""Particle storage of the tracker (one slot per tracked device, arrays grown by doubling),
the packed readings of an epoch, and the initialisation support.

Slots are allocated and freed with numpy operations (no Python loop per device);
freed slots are reused lowest first, so the layout is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.tracker.radiomap import HEADING_SECTORS
from positioning.walkable import WalkableGrid, entrance_side

__all__ = [
    "A",
    "HEADING_KNOWN_MASS",
    "HEADING_KNOWN_RESULTANT",
    "ParticleState",
    "Readings",
    "U8",
    "candidate_points",
    "front_line",
    "walking_heading",
]


IntArray = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]
A = TypeVar("A", bound=np.generic)

_INITIAL_CAPACITY = 64


class ParticleState:
    """Particles (S, N, ...) plus per-slot bookkeeping; ``code`` is -1 on free slots."""

    def __init__(self, n_particles: int) -> None:
        if n_particles < 2:
            raise ValueError(f"n_particles must be at least 2, got {n_particles}")
        self.n = n = n_particles
        self.slot_of_code = np.full(0, -1, dtype=np.int64)
        c = _INITIAL_CAPACITY
        self.code: IntArray = np.full(c, -1, dtype=np.int64)
        self.pos: F32 = np.zeros((c, n, 2), dtype=np.float32)
        self.vel: F32 = np.zeros((c, n, 2), dtype=np.float32)
        self.still: BoolArray = np.ones((c, n), dtype=bool)
        self.heading: U8 = np.zeros((c, n), dtype=np.uint8)  # sector of 45 degrees, 0 = +x
        self.w: F32 = np.full((c, n), 1.0 / n, dtype=np.float32)
        self.t_upd: F64 = np.full(c, -np.inf)
        self.last_heard: F64 = np.full(c, -np.inf)
        self.t_start: F64 = np.full(c, np.inf)  # when the current track began
        self.mode_age: F64 = np.zeros((c, 2))  # seconds walking, standing (posterior) so far
        self.est_xy: F64 = np.zeros((c, 2))
        self.est_sigma: F64 = np.zeros(c)  # honest: widened by the model check
        self.est_spread: F64 = np.zeros(c)  # the particles' 1-sigma radius
        self.est_inside: F64 = np.zeros(c)  # posterior probability of being past the front
        self.est_zone_p: F64 = np.zeros(c)  # posterior probability of the fix's zone
        self.n_beacons: IntArray = np.zeros(c, dtype=np.int64)
        # the model check (issue 16): running mean of the readings' squared standardised
        # residual at the fix, and of the squared distance to the model-free fix
        self.fit2: F64 = np.ones(c)
        self.dis2: F64 = np.zeros(c)

    def _grow(self, capacity: int) -> None:
        self.code = _grown(self.code, capacity, -1)
        self.pos = _grown(self.pos, capacity, 0.0)
        self.vel = _grown(self.vel, capacity, 0.0)
        self.still = _grown(self.still, capacity, True)
        self.heading = _grown(self.heading, capacity, 0)
        self.mode_age = _grown(self.mode_age, capacity, 0.0)
        self.w = _grown(self.w, capacity, 1.0 / self.n)
        self.t_upd = _grown(self.t_upd, capacity, -np.inf)
        self.last_heard = _grown(self.last_heard, capacity, -np.inf)
        self.t_start = _grown(self.t_start, capacity, np.inf)
        self.est_xy = _grown(self.est_xy, capacity, 0.0)
        self.est_sigma = _grown(self.est_sigma, capacity, 0.0)
        self.est_spread = _grown(self.est_spread, capacity, 0.0)
        self.est_inside = _grown(self.est_inside, capacity, 0.0)
        self.est_zone_p = _grown(self.est_zone_p, capacity, 0.0)
        self.n_beacons = _grown(self.n_beacons, capacity, 0)
        self.fit2 = _grown(self.fit2, capacity, 1.0)
        self.dis2 = _grown(self.dis2, capacity, 0.0)

    def ensure(self, codes: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Slots of ``codes`` (distinct), allocating free slots for new ones. Returns (slots, new)."""
        top = int(codes.max(initial=-1)) + 1
        if top > len(self.slot_of_code):
            grown = np.full(max(top, 2 * len(self.slot_of_code)), -1, dtype=np.int64)
            grown[: len(self.slot_of_code)] = self.slot_of_code
            self.slot_of_code = grown
        slots = self.slot_of_code[codes]
        new = slots < 0
        if new.any():
            free = np.flatnonzero(self.code < 0)
            need = int(new.sum())
            if len(free) < need:
                cap = len(self.code)
                self._grow(max(2 * cap, cap + need))
                free = np.flatnonzero(self.code < 0)
            chosen = free[:need]
            slots = slots.copy()
            slots[new] = chosen
            self.code[chosen] = codes[new]
            self.slot_of_code[codes[new]] = chosen
        return slots, new

    def reset(self, slots: IntArray, pos: F32, rng: np.random.Generator) -> None:
        """Fresh particles at ``pos`` (M, N, 2): standing or walking at random, still, equal
        weights; the device's modes just begun."""
        self.pos[slots] = pos
        self.vel[slots] = 0.0
        self.still[slots] = rng.random((len(slots), self.n)) < 0.5
        self.heading[slots] = rng.integers(0, HEADING_SECTORS, (len(slots), self.n), dtype=np.uint8)
        self.mode_age[slots] = 0.0
        self.w[slots] = 1.0 / self.n

    def take(self, slots: IntArray, idx: IntArray) -> None:
        """Resample: particles ``idx`` (M, N) of each slot replace the slot's set, weights equal."""
        # one flat gather per array: several times faster than indexing by (rows, idx)
        flat = (slots[:, None] * self.n + idx).ravel()
        for a in (self.pos, self.vel, self.still, self.heading):
            rows = np.take(a.reshape(-1, *a.shape[2:]), flat, axis=0, mode="clip")
            a[slots] = rows.reshape(len(slots), *a.shape[1:])
        self.w[slots] = 1.0 / self.n

    def count_mode_age(self, slots: IntArray, walking: BoolArray, dt_s: F64) -> None:
        """Devices mostly walking (``walking`` (M,): posterior walking mass over one half) add
        ``dt_s`` (M,) to their walking age and restart their standing one, and the other way
        round: how long the device has been in its current mode (the semi-Markov motion's
        clock, :func:`positioning.tracker.particles.switch_probability`)."""
        age = self.mode_age[slots]
        age[:, 0] = np.where(walking, age[:, 0] + dt_s, 0.0)
        age[:, 1] = np.where(walking, 0.0, age[:, 1] + dt_s)
        self.mode_age[slots] = age

    def release(self, codes: IntArray) -> None:
        codes = codes[codes < len(self.slot_of_code)]
        slots = self.slot_of_code[codes]
        slots = slots[slots >= 0]
        self.code[slots] = -1
        self.t_upd[slots] = -np.inf
        self.last_heard[slots] = -np.inf
        self.slot_of_code[codes] = -1

    def active_slots(self, mask: npt.NDArray[np.bool_]) -> IntArray:
        return np.flatnonzero((self.code >= 0) & mask)

    def active_codes(self, mask: npt.NDArray[np.bool_]) -> IntArray:
        return np.asarray(self.code[self.active_slots(mask)], dtype=np.int64)

    @property
    def nbytes(self) -> int:
        arrays = (self.pos, self.vel, self.still, self.heading, self.w, self.code, self.est_xy)
        return int(sum(a.nbytes for a in arrays))


def _grown(a: npt.NDArray[A], capacity: int, fill: float | bool) -> npt.NDArray[A]:
    """``a`` with its first axis extended to ``capacity``, new rows set to ``fill``."""
    out = np.full((capacity, *a.shape[1:]), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


@dataclass(frozen=True, slots=True)
class Readings:
    """One epoch's readings per device, packed to the K strongest beacons (count 0 = padding)."""

    beacon: IntArray  # (M, K)
    rssi_dbm: npt.NDArray[np.float32]  # (M, K) mean of the epoch
    count: npt.NDArray[np.float32]  # (M, K)
    offset_mean_db: npt.NDArray[np.float32]  # (M,) device gain offset prior
    offset_sigma_db: npt.NDArray[np.float32]  # (M,)
    proposals: npt.NDArray[np.float32]  # (M, P, 2) places to check whether the filter is lost
    missing: IntArray  # (M, U) unheard beacons that were most likely to be heard
    plausible: npt.NDArray[np.bool_]  # (M, U) whether hearing them was plausible at all
    centroid: npt.NDArray[np.float64]  # (M, 2) the model-free fix (weighted centroid)

    def take(self, index: npt.NDArray[np.bool_] | slice) -> Readings:
        return Readings(
            self.beacon[index],
            self.rssi_dbm[index],
            self.count[index],
            self.offset_mean_db[index],
            self.offset_sigma_db[index],
            self.proposals[index],
            self.missing[index],
            self.plausible[index],
            self.centroid[index],
        )


def candidate_points(grid: WalkableGrid, spacing_m: float) -> npt.NDArray[np.float32]:
    """Centres of free cells on a coarse lattice of about ``spacing_m`` (initialisation support)."""
    stride = max(1, int(round(spacing_m / grid.resolution_m)))
    iy, ix = np.nonzero(grid.free)
    keep = (ix % stride == stride // 2) & (iy % stride == stride // 2)
    if not keep.any():
        keep[:] = True
    return grid.cell_centre(ix[keep], iy[keep]).astype(np.float32)


def front_line(layout: Layout) -> tuple[int, float]:
    """(axis, coordinate) of the shop front, the outline side holding the entrance
    (axis 1: y = coordinate, 0: x = coordinate); axis -1 when there is no entrance."""
    if layout.entrance is None:
        return -1, 0.0
    return {
        "bottom": (1, 0.0),
        "top": (1, layout.height_m),
        "left": (0, 0.0),
        "right": (0, layout.width_m),
    }[entrance_side(layout)]


#: A device's walking direction is known when most of its particles walk (mass over this)
#: and they agree (mean resultant length over this: within about +-40 degrees).
HEADING_KNOWN_MASS = 0.5
HEADING_KNOWN_RESULTANT = 0.75


def walking_heading(
    walk_weight: npt.NDArray[np.float32], sector: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]:
    """(M,) circular mean heading, radians, of walking particles (weights (M, N), 0 for
    standing ones; heading sectors (M, N)); NaN where the device is not clearly walking
    one way."""
    c = np.sum(walk_weight * np.take(_SECTOR_COS, sector), axis=1, dtype=np.float64)
    s = np.sum(walk_weight * np.take(_SECTOR_SIN, sector), axis=1, dtype=np.float64)
    mass = np.sum(walk_weight, axis=1, dtype=np.float64)
    known = (mass > HEADING_KNOWN_MASS) & (np.hypot(c, s) > HEADING_KNOWN_RESULTANT * mass)
    return np.where(known, np.arctan2(s, c), np.nan)


_SECTOR_ANGLE = np.arange(HEADING_SECTORS) * (2.0 * np.pi / HEADING_SECTORS)
_SECTOR_COS = np.cos(_SECTOR_ANGLE).astype(np.float32)
_SECTOR_SIN = np.sin(_SECTOR_ANGLE).astype(np.float32)
