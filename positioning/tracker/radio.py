"""The tracker's measurement side: radio maps, the self-calibrated model, the packed
readings of an epoch and their likelihood at particle positions.

Path loss is looked up in per-beacon maps of the walkable grid
(:mod:`positioning.tracker.radiomap`) with the exponent, obstacle loss and beacon offsets of
the online self-calibration (:mod:`positioning.tracker.selfcal`); the likelihood is the
Student-t RSSI likelihood of :func:`positioning.tracker.likelihood.log_likelihood` with the
device's gain offset profiled out, plus optionally what unheard beacons say.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from positioning.baselines import weighted_centroid
from positioning.layout import Layout
from positioning.pathloss import beacon_height_offsets_m
from positioning.signal import WindowMatrix
from positioning.tracker.detection import DetectionModel, DetectionParams
from positioning.tracker.likelihood import (
    LikelihoodParams,
    miss_log_likelihood_at,
    residual_log_likelihood,
)
from positioning.tracker.particles import FloorMap
from positioning.tracker.radiofit import SelfCalParams
from positioning.tracker.radiolearn import RadioLearnParams, RadioMapLearner
from positioning.tracker.radiomap import UNKNOWN_HEADING, RadioMaps
from positioning.tracker.selfcal import RadioCalibration, SelfCalibrator
from positioning.tracker.state import Readings
from positioning.walkable import WalkableGrid

__all__ = ["TrackerRadio"]


F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class TrackerRadio:
    """Radio model of the tracker over its grid (see the module docstring)."""

    def __init__(
        self,
        layout: Layout,
        grid: WalkableGrid,
        floor: FloorMap,
        *,
        radio: LikelihoodParams,
        selfcal: SelfCalParams,
        detection: DetectionParams,
        self_calibrate: bool,
        calibration: RadioCalibration | None,
        shopfront_walls: float,
        learn_map: RadioLearnParams | None = None,
    ) -> None:
        """``learn_map``: learn a correction of the radio map from the fixes (None: off)."""
        self.layout = layout
        self.floor = floor
        self.radio = radio
        heights = beacon_height_offsets_m(layout).astype(np.float64)
        self.beacon_xy = layout.beacon_xy.astype(np.float32)
        self.beacon_h2 = (heights**2).astype(np.float32)
        self.maps = RadioMaps.build(layout, grid, heights, shopfront_walls)
        self.tx_power_dbm = layout.tx_power_dbm
        self.detection = DetectionModel(detection)
        self.calibration = SelfCalibrator(
            len(layout.beacons),
            layout.path_loss_exponent,
            selfcal,
            enabled=self_calibrate,
            calibration=calibration,
            prior_body_loss_db=radio.body_loss_db,
        )
        self._fits_seen = 0
        self.learner = (
            None
            if learn_map is None
            else RadioMapLearner(
                len(layout.beacons),
                floor.nx,
                floor.ny,
                floor.resolution_m,
                learn_map,
                _inside_cells(layout, grid) if learn_map.inside_only else None,
            )
        )

    def _table(self) -> F32:
        """(cells * 9, B + 1) path-loss rows of the current model, a ones column last."""
        cal, learned = self.calibration, self.learner
        return self.maps.path_loss_rows(
            cal.exponent,
            cal.obstacle_loss_db,
            cal.body_loss_db,
            None if learned is None else learned.correction_db,
            0 if learned is None else learned.version,
        )

    def _rows(
        self, cell: npt.NDArray[np.int32], heading: npt.NDArray[np.uint8] | None
    ) -> npt.NDArray[np.intp]:
        """(M, N) rows of the path-loss table for cells and heading sectors (None: unknown)."""
        row = cell.astype(np.intp, order="C")  # (M, N); C order also from a broadcast cell
        row *= UNKNOWN_HEADING + 1
        row += UNKNOWN_HEADING if heading is None else heading
        return row

    def path_loss(
        self,
        pos: F32,
        beacon: IntArray,
        heading: npt.NDArray[np.uint8] | None = None,
        cell: npt.NDArray[np.int32] | None = None,
        beacon_major: bool = False,
    ) -> F32:
        """(M, N, K) model path loss, dB, of (M, N, 2) points to beacons (M, K).

        ``heading`` (M, N) sectors of the particles; None: unknown (mean body loss).
        ``cell`` (M, N): the points' grid cells (``FloorMap.cell_index``), if known.
        ``beacon_major``: (M, K, N) instead, the same values (for work per beacon plane).
        """
        table = self._table()
        cell = self.floor.cell_index(pos) if cell is None else cell
        if heading is None and cell.ndim == 2 and cell.strides[0] == 0:
            return _shared_points_loss(table, cell[0], beacon, len(self.beacon_xy), beacon_major)
        row = self._rows(cell, heading)
        row *= table.shape[1]
        # np.take: 2-3x faster than fancy indexing for a flat gather; intp indices and
        # mode="clip" (they are in range, clipping changes none) spare it a conversion
        # and the bounds check
        flat = table.reshape(-1)
        if beacon_major:
            return np.take(flat, beacon.astype(np.intp)[:, :, None] + row[:, None, :], mode="clip")
        return np.take(flat, row[..., None] + beacon.astype(np.intp)[:, None, :], mode="clip")

    def residuals(
        self,
        pos: F32,
        r: Readings,
        heading: npt.NDArray[np.uint8] | None = None,
    ) -> tuple[F32, F32]:
        """The model's terms of the likelihood at (M, N, 2) points: (M, N, K) residuals
        rssi - (power - path loss) of the heard beacons, and (M, U, N) the model mean RSSI
        (power + device offset - path loss, the heading unknown) of the unheard ones,
        beacon-major. Points shared by every device (the start grid, broadcast) are looked
        up once.

        The heard residuals come from a gather of the points' whole table rows and a
        product with a one-hot (B + 1, K) matrix per device whose last row holds
        rssi - power: each output sums one loss and that constant (times the table's ones
        column), the other terms exact zeros, so it rounds once, as the plain
        subtraction does (the same values, tested). 2-3x faster than the (M, N, K) index
        arithmetic and element gather; for the U = 2 unheard beacons, the element gather
        (along N) stays the faster one."""
        table = self._table()
        b = len(self.beacon_xy)
        power = (self.tx_power_dbm + self.calibration.beacon_offset_db).astype(np.float32)
        shared = pos.ndim == 3 and pos.strides[0] == 0
        cell = self.floor.cell_index(pos[:1] if shared else pos)
        rows = np.take(table, self._rows(cell, None if shared else heading), axis=0, mode="clip")
        m, k = r.beacon.shape
        select = np.zeros((m, b + 1, k), np.float32)
        select[np.arange(m)[:, None], r.beacon, np.arange(k)[None, :]] = 1.0
        select[:, b, :] = r.rssi_dbm - power[r.beacon]
        with np.errstate(invalid="ignore"):  # the BLAS kernel's spurious flag (_batched_dot)
            resid = np.matmul(rows, select)  # (M, N, K); rows (1, N, B + 1) broadcast
        if shared:
            cell = np.broadcast_to(cell, pos.shape[:2])
        unheard = self.path_loss(pos, r.missing, cell=cell, beacon_major=True)
        np.subtract(
            (power[r.missing] + r.offset_mean_db[:, None])[:, :, None], unheard, out=unheard
        )
        return resid, unheard

    def heading_cos(self, xy: FloatArray, heading_rad: FloatArray) -> FloatArray:
        """(D, B) cos of the angle between each heading and the bearing to each beacon
        (-1: straight behind; NaN where the heading is NaN)."""
        to_beacon = self.layout.beacon_xy[None, :, :] - xy[:, None, :]
        bearing = np.arctan2(to_beacon[..., 1], to_beacon[..., 0])
        return np.asarray(np.cos(bearing - heading_rad[:, None]))

    def crossings_at(self, xy: FloatArray) -> FloatArray:
        """(D, B) obstacles between each point and each beacon."""
        cell, _ = self.floor.cell(xy.astype(np.float32))
        b = np.arange(len(self.beacon_xy)) * self.maps.cells
        return np.asarray(self.maps.crossings[b[None, :] + cell[:, None]], dtype=np.float64)

    def front_db_at(self, xy: FloatArray) -> FloatArray:
        """(D, B) the layout's declared shop-front loss between each point and each beacon,
        dB (0 where the layout declares none)."""
        if self.maps.front_db is None:
            return np.zeros((len(xy), len(self.beacon_xy)))
        cell, _ = self.floor.cell(xy.astype(np.float32))
        b = np.arange(len(self.beacon_xy)) * self.maps.cells
        return np.asarray(self.maps.front_db[b[None, :] + cell[:, None]], dtype=np.float64)

    def predicted_dbm(self, xy: FloatArray, offset_db: FloatArray) -> FloatArray:
        """(D, B) model RSSI of every beacon at each point (heading unknown), device offset (D,)."""
        b = np.arange(len(self.beacon_xy))[None, :]
        loss = self.path_loss(
            xy.astype(np.float32)[:, None, :], np.broadcast_to(b, (len(xy), b.shape[1]))
        )
        power = self.tx_power_dbm + self.calibration.beacon_offset_db
        return np.asarray(power + offset_db[:, None] - loss[:, 0, :], np.float64)

    def centroid_at(self, xy: FloatArray, heard: npt.NDArray[np.bool_]) -> FloatArray:
        """(D, 2) weighted centroid the model expects of a device at ``xy`` hearing the
        ``heard`` (D, B) beacons: where the model-free fix would sit if the fix were right
        (its pull towards the beacons' middle is geometry, not error; issue 16.3)."""
        rssi = np.where(heard, self.predicted_dbm(xy, np.zeros(len(xy))), np.nan)
        centroid, _ = weighted_centroid(
            rssi, self.tx_power_dbm, self.layout.beacon_xy, self.calibration.exponent
        )
        return centroid

    def readings(
        self,
        win: WindowMatrix,
        anchor_xy: FloatArray,
        max_beacons: int,
        missing_beacons: int,
        snap: Callable[[FloatArray], FloatArray],
        beacon_snapped: F32,
    ) -> Readings:
        """The K strongest beacons of each device (relative to 1 m power), its offset prior,
        and the unheard beacons it would most likely have heard at ``anchor_xy`` (NaN: new)."""
        k = min(max_beacons, win.rssi_dbm.shape[1])
        excess = np.where(win.count > 0, win.rssi_dbm - self.tx_power_dbm, -np.inf)
        idx = np.argsort(-excess, axis=1, kind="stable")[:, :k]
        cal = self.calibration
        mean, sigma = cal.device_prior(win.device, self.radio.offset_prior_db)
        centroid, _ = weighted_centroid(
            win.rssi_dbm, self.tx_power_dbm, self.layout.beacon_xy, cal.exponent
        )
        snapped = snap(centroid)
        proposals = np.concatenate([snapped[:, None, :], beacon_snapped[idx[:, :2]]], axis=1)
        anchor = np.where(np.isnan(anchor_xy), snapped, anchor_xy)
        missing, plausible = self._missing(win, anchor, mean, missing_beacons)
        return Readings(
            idx,
            np.take_along_axis(np.nan_to_num(win.rssi_dbm), idx, axis=1).astype(np.float32),
            np.take_along_axis(win.count, idx, axis=1).astype(np.float32),
            mean.astype(np.float32),
            sigma.astype(np.float32),
            proposals.astype(np.float32),
            missing,
            plausible,
            centroid,
        )

    def _missing(
        self, win: WindowMatrix, anchor_xy: FloatArray, offset_db: FloatArray, u: int
    ) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """(D, U) unheard beacons most likely to be heard at ``anchor_xy``, and whether
        hearing them was plausible at all (U = ``missing_beacons``, 0 by default)."""
        u = min(u, win.rssi_dbm.shape[1])
        if u == 0:
            return np.zeros((len(win.device), 0), np.int64), np.zeros((len(win.device), 0), bool)
        predicted = self.predicted_dbm(anchor_xy, offset_db)
        predicted[win.count > 0] = -np.inf
        missing = np.argsort(-predicted, axis=1, kind="stable")[:, :u]
        floor_dbm = self.detection.sensitivity_dbm - self.radio.sigma_slow_db
        return missing, np.take_along_axis(predicted, missing, axis=1) > floor_dbm

    def loglik(self, pos: F32, r: Readings, heading: npt.NDArray[np.uint8] | None = None) -> F32:
        """(M, N) log-likelihood of each device's readings at its particles."""
        cal, det = self.calibration, self.detection
        resid, unheard_dbm = self.residuals(pos, r, heading)
        ll = residual_log_likelihood(
            resid,
            r.rssi_dbm,
            r.count,
            r.offset_mean_db,
            r.offset_sigma_db,
            self.radio,
            cal.floor_dbm if cal.params.truncated_fit else None,  # the fit's truncation
            *self._unfitted_walls(pos, r.beacon),
        )
        if r.missing.shape[1]:
            ll += miss_log_likelihood_at(
                unheard_dbm, r.plausible, det.sensitivity_dbm, det.miss_rate, self.radio
            )
        return ll

    def _unfitted_walls(self, pos: F32, beacon: IntArray) -> tuple[F32 | None, float]:
        """(M, N, K) obstacles crossed from the (M, N, 2) points and the wall loss in use,
        while the wall loss is an unfitted prior (``wall_prior_sd_db`` > 0, no fit yet);
        (None, 0) otherwise."""
        cal = self.calibration
        if self.radio.wall_prior_sd_db <= 0 or (cal.enabled and cal.fits > 0) or not cal.enabled:
            return None, 0.0
        cell = self.floor.cell_index(np.ascontiguousarray(pos))
        at = beacon.astype(np.intp)[:, None, :] * self.maps.cells + cell.astype(np.intp)[..., None]
        return np.take(self.maps.crossings, at).astype(np.float32), cal.obstacle_loss_db

    def learn(
        self,
        win: WindowMatrix,
        mean: FloatArray,
        sigma: FloatArray,
        learn_detection: bool,
        walking: FloatArray | None = None,
        heading_rad: FloatArray | None = None,
        cloud: tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], FloatArray] | None = None,
    ) -> None:
        """Feed the epoch's fixes to the detection model, the self-calibration and the
        radio-map learner (``walking`` (D,): posterior probability that each device walks;
        ``heading_rad`` (D,): its walking direction, NaN where unknown)."""
        if learn_detection:
            det = self.detection
            det.add_readings(win.rssi_dbm[win.count > 0])
            sure = sigma <= self.calibration.params.max_fix_sigma_m
            if sure.any():
                offset, _ = self.calibration.device_prior(win.device[sure], 0.0)
                det.add_epoch(self.predicted_dbm(mean[sure], offset), win.count[sure] > 0)
            self.calibration.miss_rate = det.miss_rate  # for the censored rows of the fit
        self.calibration.add(
            float(win.last_t_s.max()),
            win.device,
            win.rssi_dbm + self.front_db_at(mean),  # the declared glass is not refitted
            win.count,
            mean,
            sigma,
            self.layout.beacon_xy,
            self.tx_power_dbm,
            self.beacon_h2,
            self.crossings_at(mean),
            None if heading_rad is None else self.heading_cos(mean, heading_rad),
            cloud,  # the particles and weights, for the self-calibration's cloud gate
        )
        if self.learner is not None:
            moving = np.zeros(len(mean)) if walking is None else walking
            self._learn_map(self.learner, win, mean, sigma, moving)

    def _learn_map(
        self,
        learner: RadioMapLearner,
        win: WindowMatrix,
        mean: FloatArray,
        sigma: FloatArray,
        walking: FloatArray,
    ) -> None:
        """Residuals of the uncorrected model at the fixes, into the radio-map learner:
        rssi - P_1m - a_b - c_d + 10 n log10 d + L crossings (+ the mean body loss, a
        constant the learner removes), in terms so a later refit uses the newest n, L."""
        p, cal, maps = learner.params, self.calibration, self.maps
        cell, _ = self.floor.cell(mean.astype(np.float32))
        idx = np.arange(len(self.beacon_xy))[None, :] * maps.cells + cell[:, None]
        log10_d = maps.log10_d[idx].astype(np.float64)
        offset, _ = cal.device_prior(win.device, 0.0)
        excess = np.nan_to_num(win.rssi_dbm) - self.tx_power_dbm - cal.beacon_offset_db
        excess -= offset[:, None]
        if maps.front_db is not None:  # the declared glass: a known loss, not a residual
            excess += maps.front_db[idx]
        terms = np.stack([excess, log10_d, maps.crossings[idx].astype(np.float64)])
        usable = (win.count > 0) & (log10_d <= np.log10(p.max_distance_m))
        usable &= (sigma <= p.max_fix_sigma_m)[:, None]
        weight = p.still_weight + (1.0 - p.still_weight) * walking
        # refit with the self-calibration (one rebuild of the path-loss table for both)
        refit = not cal.enabled or cal.fits != self._fits_seen
        self._fits_seen = cal.fits
        coefficients = np.array([1.0, 10.0 * cal.exponent, cal.obstacle_loss_db])
        learner.add(
            float(win.last_t_s.max()),
            cell.astype(np.int64),
            terms,
            usable,
            weight,
            coefficients if refit else None,
        )


def _inside_cells(layout: Layout, grid: WalkableGrid) -> npt.NDArray[np.bool_]:
    """(cells,) which cells of the grid lie inside the store outline."""
    ny, nx = grid.free.shape
    iy, ix = np.divmod(np.arange(nx * ny), nx)
    return np.asarray(layout.contains(grid.cell_centre(ix, iy)), dtype=bool)


def _shared_points_loss(
    table: F32, cell: npt.NDArray[np.int32], beacon: IntArray, b: int, beacon_major: bool
) -> F32:
    """(M, C, K) path loss of the same C points (cells, heading unknown) for every device's
    beacons (M, K): the points' rows once, beacon-major, then whole rows per beacon and one
    transposed copy: the same values as the flat gather, 2-3x faster.
    ``beacon_major``: (M, K, C), without the copy."""
    row = cell.astype(np.intp) * (UNKNOWN_HEADING + 1) + UNKNOWN_HEADING
    per_beacon = np.take(table[:, :b], row, axis=0, mode="clip").T.copy()  # (B, C)
    gathered = np.take(per_beacon, beacon, axis=0, mode="clip")  # (M, K, C)
    if beacon_major:
        return gathered
    return np.ascontiguousarray(gathered.transpose(0, 2, 1))
