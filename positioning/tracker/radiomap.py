"""Per-beacon maps of the floor grid: log-distance and obstacles crossed, for fast lookups.

The tracker evaluates the path loss of hundreds of particles per device and beacon
every second; a lookup in a precomputed map replaces a distance, a logarithm and
a polygon intersection test. The cell size (0.25 m) is far below what RSSI can
resolve.

Path loss is the log-distance term plus a multi-wall term, a loss per obstacle
crossed by the line of sight (COST 231 multi-wall model, Damosso ed., "Digital
mobile radio towards future generation systems", COST 231 final report, 1999,
section 4.7; light interior walls 3.4 dB, shelves with goods similar or more; the
shop front can count as such walls between the street and the floor), plus
body shadowing: the carrier's body between phone and beacon, growing from 0 when
facing the beacon to the full loss when it is behind (a cardioid in the bearing;
Faragher & Harle, IEEE JSAC 33(11), 2015, measured several dB of body loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from positioning.geometry import count_crossed
from positioning.layout import Layout
from positioning.pathloss import MIN_DISTANCE_M
from positioning.walkable import WalkableGrid

__all__ = ["CROSSING_STRIDE", "HEADING_SECTORS", "RadioMaps", "UNKNOWN_HEADING"]


F32 = npt.NDArray[np.float32]
#: Obstacle crossings are counted at every CROSSING_STRIDE-th cell (0.5 m with 0.25 m
#: cells): a wall's effect does not change within half a metre, and counting is the
#: slow part of building the maps.
CROSSING_STRIDE = 2
#: Headings are kept in 8 sectors of 45 degrees; index 8 means "heading unknown".
HEADING_SECTORS = 8
UNKNOWN_HEADING = HEADING_SECTORS
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class RadioMaps:
    """Beacon-major flat maps over the grid's cells: index ``b * cells + cell``."""

    log10_d: F32
    crossings: F32
    cells: int
    #: (B, 9, cells) share of the body loss, (1 - cos(bearing - heading)) / 2, per heading
    #: sector and the mean 0.5 for an unknown heading
    body_share: F32
    #: (B * cells,) fixed loss of the shop front, dB, on the paths that cross it (the layout's
    #: declared glass); None: the glass costs only what ``crossings`` counts for it
    front_db: F32 | None = None
    _cache: dict[tuple[float, float, float, float], F32] = field(default_factory=dict)

    @classmethod
    def build(
        cls, layout: Layout, grid: WalkableGrid, heights_m: FloatArray, front_walls: float = 1.0
    ) -> RadioMaps:
        """``front_walls``: how many obstacle crossings the shop front counts as between a
        beacon and a cell on the other side of it, unless the layout declares the front's
        loss (``[radio] shopfront_loss_db``): then each such path loses that, dB."""
        ny, nx = grid.free.shape
        iy, ix = np.divmod(np.arange(nx * ny), nx)
        centres = grid.cell_centre(ix, iy)
        diff = centres[None, :, :] - layout.beacon_xy[:, None, :]
        d2 = np.einsum("bci,bci->bc", diff, diff) + (heights_m**2)[:, None]
        log10_d = 0.5 * np.log10(np.maximum(d2, MIN_DISTANCE_M**2))
        # Crossings on a lattice of every other cell (0.5 m), read back by the nearest node.
        coarse = (iy // CROSSING_STRIDE) * CROSSING_STRIDE * nx + (
            ix // CROSSING_STRIDE
        ) * CROSSING_STRIDE
        nodes, back = np.unique(coarse, return_inverse=True)
        crossings = np.stack(
            [_crossings(layout, b, centres[nodes])[back.reshape(-1)] for b in layout.beacon_xy]
        )
        # The shop front (glass, 2-4 dB at 2.4 GHz) stands between a beacon and a cell on
        # the other side of it: a street cell for a beacon inside, a floor cell for one
        # facing the street; an open front costs nothing. The tracker's default counts it
        # as 0 walls (see docs/positioning.md, item 6); a layout that declares the front's
        # loss gets it per path, in dB: the glass is the store's, not a shelf's fitted loss
        # (docs/planning.md, "The glass from the layout").
        cell_out = ~layout.contains(centres)
        beacon_out = ~layout.contains(layout.beacon_xy)
        across = cell_out[None, :] != beacon_out[:, None]
        declared = layout.shopfront_loss_db
        front_db = None
        if declared is None:
            crossings += front_walls * across
        else:
            front_db = (declared * across).astype(np.float32).ravel()
        bearing = np.arctan2(-diff[..., 1], -diff[..., 0])  # (B, cells) cell -> beacon
        angles = np.arange(HEADING_SECTORS) * (2.0 * np.pi / HEADING_SECTORS)
        share = 0.5 * (1.0 - np.cos(bearing[:, None, :] - angles[None, :, None]))
        share = np.concatenate([share, np.full((len(share), 1, nx * ny), 0.5)], axis=1)
        return cls(
            log10_d.astype(np.float32).ravel(),
            crossings.astype(np.float32).ravel(),
            nx * ny,
            share.astype(np.float32),
            front_db,
        )

    def path_loss_db(
        self,
        exponent: float,
        obstacle_loss_db: float,
        body_loss_db: float,
        correction_db: F32 | None = None,
        correction_version: int = 0,
    ) -> F32:
        """Flat (cells * 9 * B,) table, cell-major, index ``(cell * 9 + heading) * B + b``:
        10 n log10(d) + L * crossings + body loss * share - correction (``correction_db``
        (cells, B) dB added to the predicted RSSI, e.g. the learned radio map of
        :mod:`positioning.tracker.radiolearn`, identified by ``correction_version``).
        A copy of :meth:`path_loss_rows` without its ones column."""
        rows = self.path_loss_rows(
            exponent, obstacle_loss_db, body_loss_db, correction_db, correction_version
        )
        return np.ascontiguousarray(rows[:, :-1]).ravel()

    def path_loss_rows(
        self,
        exponent: float,
        obstacle_loss_db: float,
        body_loss_db: float,
        correction_db: F32 | None = None,
        correction_version: int = 0,
    ) -> F32:
        """(cells * 9, B + 1) table, row ``cell * 9 + heading``: the path loss to each
        beacon (see :meth:`path_loss_db`), then a column of ones (cached per model). One
        particle's beacons lie side by side, so its lookup touches one or two cache lines;
        the ones column lets a matrix product with a row add a per-device constant exactly
        (:func:`positioning.tracker.radio.TrackerRadio.residuals`)."""
        key = (
            round(float(exponent), 4),
            round(float(obstacle_loss_db), 3),
            float(body_loss_db),
            -1.0 if correction_db is None else float(correction_version),
        )
        table = self._cache.get(key)
        if table is None:
            b = len(self.body_share)
            base = np.float32(10.0 * key[0]) * self.log10_d + np.float32(key[1]) * self.crossings
            if self.front_db is not None:
                base += self.front_db
            full = base.reshape(b, 1, self.cells) + np.float32(key[2]) * self.body_share
            cell_major = full.transpose(2, 1, 0)
            if correction_db is not None:
                cell_major = cell_major - correction_db[:, None, :]
            table = np.empty((self.cells, UNKNOWN_HEADING + 1, b + 1), np.float32)
            table[..., :b] = cell_major  # one strided copy, no transposed temporary
            table[..., b] = 1.0
            table = table.reshape(-1, b + 1)
            self._cache.clear()
            self._cache[key] = table
        return table


def _crossings(layout: Layout, beacon_xy: FloatArray, points: FloatArray) -> FloatArray:
    """(P,) obstacles crossed by the segment from the beacon to each point."""
    out = np.zeros(len(points))
    lo_seg, hi_seg = np.minimum(points, beacon_xy), np.maximum(points, beacon_xy)
    for obstacle in layout.obstacles:
        lo, hi = obstacle.polygon.min(axis=0), obstacle.polygon.max(axis=0)
        maybe = np.flatnonzero(((lo_seg <= hi) & (hi_seg >= lo)).all(axis=1))
        if len(maybe):
            origin = np.broadcast_to(beacon_xy, (len(maybe), 2))
            out[maybe] += count_crossed(origin, points[maybe], [obstacle.polygon])
    return out
