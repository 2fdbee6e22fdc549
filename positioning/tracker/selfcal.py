"""Self-calibration of the radio model from the data itself.

A deployment knows only each beacon's declared 1 m power. The real path-loss
exponent, how far each beacon (or receiver) is off its declared power, and each
phone's (or tag's) gain offset are estimated here by a robust regression

    rssi = P_b + a_b + c_d - 10 n log10(d)

over a sliding history of the tracker's own confident fixes (self-calibration), or
over recordings at known points (explicit calibration, :func:`calibrate_at_known_points`).
The body loss (the carrier's body between phone and beacon) is fitted after it, from
walkers only. The regression itself is :mod:`positioning.tracker.radiofit`: Huber weights stop
deep fades from dragging the fit; ridge priors pull offsets to 0 and the exponent to
the layout's, and everything is clipped to physical bounds, so a bad spell can shift
the model only a bounded amount.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from positioning.geometry import count_crossed
from positioning.layout import Layout
from positioning.pathloss import MIN_DISTANCE_M, beacon_height_offsets_m, distance_m
from positioning.tracker.cloudgate import cloud_distance
from positioning.tracker.detection import FloorEstimate
from positioning.tracker.radiofit import (
    HUBER_K,
    RadioFit,
    SelfCalParams,
    fit_body_loss,
    fit_radio_model,
)

__all__ = ["RadioCalibration", "SelfCalibrator", "calibrate_at_known_points"]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: a fix's particles (D, P, 2), their weights (D, P), honest sigma_m over the spread (D,)
Cloud = tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], FloatArray]


@dataclass(frozen=True, slots=True)
class RadioCalibration:
    """A fitted radio model: exponent and per-beacon offsets from the declared 1 m power."""

    exponent: float
    beacon_offset_db: FloatArray
    obstacle_loss_db: float = 0.0


def calibrate_at_known_points(
    layout: Layout,
    beacon: IntArray,
    rssi_dbm: FloatArray,
    xy_m: FloatArray,
    params: SelfCalParams | None = None,
) -> RadioCalibration:
    """Explicit calibration from readings taken at known positions ``xy_m`` (R, 2), one phone."""
    p = params or SelfCalParams(min_distance_m=MIN_DISTANCE_M)
    d = distance_m(xy_m, layout.beacon_xy, beacon_height_offsets_m(layout))
    d = d[np.arange(len(beacon)), beacon]
    polygons = [o.polygon for o in layout.obstacles]
    crossings = count_crossed(layout.beacon_xy[beacon], xy_m, polygons).astype(np.float64)
    fit = fit_radio_model(
        rssi_dbm,
        layout.tx_power_dbm[beacon],
        beacon,
        np.zeros(len(beacon), dtype=np.int64),
        np.log10(d),
        len(layout.beacons),
        layout.path_loss_exponent,
        p,
        fit_devices=False,
        crossings=crossings,
    )
    return RadioCalibration(fit.exponent, fit.beacon_offset_db, fit.obstacle_loss_db)


class SelfCalibrator:
    """Online self-calibration state fed by the tracker's fixes (see the module docstring)."""

    def __init__(
        self,
        n_beacons: int,
        prior_exponent: float,
        params: SelfCalParams | None = None,
        *,
        enabled: bool = True,
        calibration: RadioCalibration | None = None,
        prior_body_loss_db: float = 0.0,
    ) -> None:
        self.params = p = params or SelfCalParams()
        self.enabled = enabled
        self.prior_exponent = float(prior_exponent)
        # the fit finds at most the likelihood's body loss, starting from body_start_db
        self.max_body_loss_db = float(prior_body_loss_db)
        start = p.body_start_db
        self.prior_body_loss_db = self.body_loss_db = float(
            prior_body_loss_db if start is None else min(start, prior_body_loss_db)
        )
        self.exponent = calibration.exponent if calibration else float(prior_exponent)
        start_loss = (
            p.obstacle_loss_prior_db if p.obstacle_start_db is None else p.obstacle_start_db
        )
        self.obstacle_loss_db = calibration.obstacle_loss_db if calibration else start_loss
        self.beacon_offset_db = (
            calibration.beacon_offset_db.copy() if calibration else np.zeros(n_beacons)
        )
        self.n_beacons = n_beacons
        self._device_offset = np.zeros(0)
        self._device_rows = np.zeros(0, dtype=np.int64)
        h = p.history_rows
        self._dev = np.zeros(h, dtype=np.int64)
        self._beacon = np.zeros(h, dtype=np.int64)
        self._rssi = np.zeros(h)
        self._log10_d = np.zeros(h)
        self._cross = np.zeros(h)
        self._cos = np.full(h, np.nan)  # heading vs beacon, NaN: not walking
        self._place = np.zeros(h, dtype=np.int64)  # the fix's floor cell
        self._censored = np.zeros(h, dtype=bool)  # a beacon not heard (``censored_fit``)
        self._share = np.ones(h)  # the cloud's share beyond the gate (``cloud_gate``)
        #: how often the scan misses a beacon it should hear (set by the detection model)
        self.miss_rate = 0.0
        self._size = 0
        self._head = 0
        self._last_fit_s = -np.inf
        self.fits = 0
        self.exponent_split = (float("nan"), float("nan"))  # the last split-half check
        self.unheard_ratio = float("nan")  # the last censored-fit gate statistic
        self.walker_rows = 0  # rows of walking devices (heading known) seen so far
        self._declared = np.zeros(n_beacons)
        self._floor = FloorEstimate(p.floor_quantile)

    @property
    def floor_dbm(self) -> float | None:
        """The receiver's detection floor seen so far (None before any reading)."""
        return self._floor.dbm if self._floor.seen else None

    def device_prior(
        self, codes: IntArray, sigma_unknown_db: float
    ) -> tuple[FloatArray, FloatArray]:
        """Prior mean and spread of each device's gain offset, dB (codes (D,))."""
        known = codes < len(self._device_offset)
        mean = np.zeros(len(codes))
        rows = np.zeros(len(codes), dtype=np.int64)
        mean[known] = self._device_offset[codes[known]]
        rows[known] = self._device_rows[codes[known]]
        trusted = rows >= self.params.calibrated_rows
        sigma = np.where(trusted, self.params.calibrated_offset_sigma_db, sigma_unknown_db)
        return mean, sigma

    def add(
        self,
        t_s: float,
        codes: IntArray,
        rssi_dbm: FloatArray,
        count: IntArray,
        est_xy: FloatArray,
        est_sigma_m: FloatArray,
        beacon_xy: FloatArray,
        declared_1m_dbm: FloatArray,
        beacon_h2: npt.ArrayLike = 0.0,
        crossings: FloatArray | None = None,
        heading_cos: FloatArray | None = None,
        cloud: Cloud | None = None,
    ) -> None:
        """Feed one epoch: (D,) devices, (D, B) mean RSSI and counts, (D, 2) fixes and sigmas,
        (D, B) obstacles crossed and cos of the angle between the walking heading and each
        beacon (NaN where the heading is unknown); ``cloud``: the fixes' particles (D, P, 2),
        weights (D, P) and (D,) honest sigma_m over the cloud's own spread, for ``cloud_gate``
        / ``cloud_log_distance``."""
        if not self.enabled:
            return
        p = self.params
        self._declared = np.asarray(declared_1m_dbm, dtype=np.float64)
        self._floor.add(rssi_dbm[count > 0])
        h = np.sqrt(np.asarray(beacon_h2, dtype=np.float64))
        d = distance_m(est_xy, beacon_xy, h)
        log10_d = np.log10(d)
        share = np.ones_like(d)
        near = d >= p.min_distance_m
        if cloud is not None and (p.cloud_gate or p.cloud_log_distance):
            gate = p.min_distance_m if p.cloud_gate else 0.0
            pos, w, grow = cloud
            if p.cloud_honest:
                pos = est_xy[:, None, :] + np.maximum(grow, 1.0)[:, None, None] * (
                    pos - est_xy[:, None, :]
                )
            c_share, c_log10_d = cloud_distance(pos, w, beacon_xy, h, gate)
            if p.cloud_gate:
                share, near = c_share, c_share >= p.cloud_min_share
            if p.cloud_log_distance:
                log10_d = np.where(np.isfinite(c_log10_d), c_log10_d, log10_d)
        use = (count > 0) & (est_sigma_m[:, None] <= p.max_fix_sigma_m) & near
        di, bi = np.nonzero(use)
        cross = np.zeros(len(di)) if crossings is None else crossings[di, bi]
        cos = np.full(len(di), np.nan) if heading_cos is None else heading_cos[di, bi]
        self.walker_rows += int(np.isfinite(cos).sum())
        excess = rssi_dbm[di, bi] - declared_1m_dbm[bi]
        cell = np.floor(est_xy[di] / p.place_cell_m).astype(np.int64)
        place = cell[:, 0] * 100_003 + cell[:, 1]
        rows = (codes[di], bi, excess, log10_d[di, bi], cross, cos, place)
        self._push(*rows, np.zeros(len(di), dtype=bool), np.asarray(share[di, bi], np.float64))
        if p.censored_fit and self._floor.seen:
            unheard = self._unheard(
                codes, count, est_xy, est_sigma_m, np.asarray(d, np.float64), crossings, heading_cos
            )
            self._push(*unheard, True)
        if t_s - self._last_fit_s >= p.refit_every_s and self._enough_rows():
            self._refit()
            self._last_fit_s = t_s

    def _enough_rows(self) -> bool:
        """``min_rows`` rows, or ``crowd_min_rows`` of ``crowd_devices`` devices or more."""
        p, n = self.params, self._size
        if n >= p.min_rows:
            return True
        if p.crowd_min_rows <= 0 or n < p.crowd_min_rows:
            return False
        return len(np.unique(self._dev[:n])) >= p.crowd_devices

    def _unheard(
        self,
        codes: IntArray,
        count: IntArray,
        est_xy: FloatArray,
        est_sigma_m: FloatArray,
        d: FloatArray,
        crossings: FloatArray | None,
        heading_cos: FloatArray | None,
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
        """Censored rows of one epoch: beacons not heard at a confident fix that the current
        model expects no more than ``censored_margin_db`` under the floor (farther ones say
        nothing the model does not already), with the floor (as an excess over the declared
        power) in place of a reading."""
        p = self.params
        floor = self._floor.dbm - self._declared
        offset, _ = self.device_prior(codes, 0.0)
        cross = np.zeros_like(d) if crossings is None else crossings
        predicted = (
            self.beacon_offset_db[None, :] + offset[:, None]
            - 10.0 * self.exponent * np.log10(d) - self.obstacle_loss_db * cross
        )  # fmt: skip
        use = (count == 0) & (est_sigma_m[:, None] <= p.max_fix_sigma_m)
        use &= (d >= p.min_distance_m) & (predicted > floor[None, :] - p.censored_margin_db)
        di, bi = np.nonzero(use)
        cell = np.floor(est_xy[di] / p.place_cell_m).astype(np.int64)
        place = cell[:, 0] * 100_003 + cell[:, 1]
        # a walker's body hides the beacons behind it (B cos / 2 about the mean body loss the
        # offsets hold): as the floor moved, those misses do not steepen the exponent
        body = 0.0 if heading_cos is None else np.nan_to_num(heading_cos[di, bi])
        floor_b = floor[bi] - self.body_loss_db * body / 2.0
        nan = np.full(len(di), np.nan)  # the body fit takes heard rows only
        return codes[di], bi, floor_b, np.log10(d[di, bi]), cross[di, bi], nan, place

    def _push(
        self,
        dev: IntArray,
        beacon: IntArray,
        excess: FloatArray,
        log10_d: FloatArray,
        cross: FloatArray,
        cos: FloatArray,
        place: IntArray,
        censored: npt.NDArray[np.bool_] | bool,
        share: FloatArray | float = 1.0,
    ) -> None:
        h = len(self._dev)
        m = min(len(dev), h)
        at = (self._head + np.arange(m)) % h
        self._dev[at], self._beacon[at] = dev[-m:], beacon[-m:]
        self._rssi[at], self._log10_d[at], self._cross[at] = excess[-m:], log10_d[-m:], cross[-m:]
        self._cos[at] = cos[-m:]
        self._place[at] = place[-m:]
        self._censored[at] = np.broadcast_to(censored, (len(dev),))[-m:]
        self._share[at] = np.broadcast_to(share, (len(dev),))[-m:]
        self._head = (self._head + m) % h
        self._size = min(h, self._size + m)

    def _refit(self) -> None:
        n = self._size
        codes, compact = np.unique(self._dev[:n], return_inverse=True)
        rows = self._gated_rows(compact.reshape(-1))
        fit = self._fit(rows, compact.reshape(-1))
        shrunk = self._checked_exponent(fit.exponent, compact.reshape(-1))
        if shrunk != fit.exponent:
            fit = self._fit(rows, compact.reshape(-1), fixed_exponent=shrunk)
        fit = _padded(fit, len(codes))
        self.exponent = fit.exponent
        self.obstacle_loss_db = fit.obstacle_loss_db
        self.beacon_offset_db = fit.beacon_offset_db
        top = int(codes.max()) + 1
        if top > len(self._device_offset):
            self._device_offset = np.pad(self._device_offset, (0, top - len(self._device_offset)))
            self._device_rows = np.pad(self._device_rows, (0, top - len(self._device_rows)))
        self._device_offset[codes] = fit.device_offset_db
        self._device_rows[codes] = fit.device_rows
        self._refit_body_loss(fit, compact.reshape(-1))
        self.fits += 1
        if self.fits == 1 and self.params.forget_start_rows:
            self._size = self._head = 0

    def _fit(
        self, rows: IntArray, device: IntArray, fixed_exponent: float | None = None
    ) -> RadioFit:
        """The radio fit over history ``rows`` (R,), ``device`` the compact code of every row."""
        n = self._size
        weight = self._place_weight(n)
        if self.params.censored_weight < 1.0 and self._censored[:n].any():
            down = np.where(self._censored[:n], self.params.censored_weight, 1.0)
            weight = down if weight is None else weight * down
        if self.params.cloud_gate:
            weight = self._share[:n] if weight is None else weight * self._share[:n]
        return fit_radio_model(
            self._rssi[rows],
            np.zeros(len(rows)),
            self._beacon[rows],
            device[rows],
            self._log10_d[rows],
            self.n_beacons,
            self.prior_exponent,
            self.params,
            crossings=self._cross[rows],
            floor_dbm=(
                self._floor.dbm - self._declared[self._beacon[rows]]
                if self.params.truncated_fit and self._floor.seen
                else None
            ),
            row_weight=None if weight is None else weight[rows],
            fixed_exponent=fixed_exponent,
            censored=self._censored[rows] if self._censored[rows].any() else None,
            miss_rate=self.miss_rate,
        )

    def _gated_rows(self, device: IntArray) -> IntArray:
        """The history rows the fit takes: all of them, or only the heard ones when
        ``censored_gate`` is on and the plain fit already explains the beacons unheard."""
        n, p = self._size, self.params
        every = np.arange(n)
        if p.censored_gate <= 0 or not self._censored[:n].any():
            return every
        heard = np.flatnonzero(~self._censored[:n])
        if len(heard) < p.min_rows:
            return every
        self.unheard_ratio = self._unheard_ratio(self._fit(heard, device), device)
        return every if self.unheard_ratio > p.censored_gate else heard

    def _unheard_ratio(self, plain: RadioFit, device: IntArray) -> float:
        """Beacons unheard over the number the plain fit expects unheard, among the rows
        it puts no more than ``censored_margin_db`` under the floor: each such row goes
        unheard with probability miss + (1 - miss) Phi((floor - mu) / s). About 1 where
        the plain fit explains the misses; above it where the lost weak readings have
        flattened the fit, so that beacons it expects to hear are not heard."""
        n, p = self._size, self.params
        cens = self._censored[:n]
        dev = device[:n]
        c = plain.device_offset_db
        c = np.pad(c, (0, max(0, int(dev.max(initial=-1)) + 1 - len(c))))
        mu = (
            plain.beacon_offset_db[self._beacon[:n]] + c[dev]
            - 10.0 * plain.exponent * self._log10_d[:n] - plain.obstacle_loss_db * self._cross[:n]
        )  # fmt: skip
        # a censored row holds its floor (less the body share) in place of a reading
        floor = np.where(cens, self._rssi[:n], self._floor.dbm - self._declared[self._beacon[:n]])
        cand = mu > floor - p.censored_margin_db
        q = self.miss_rate + (1.0 - self.miss_rate) * ndtr((floor - mu) / plain.scale_db)
        expected = float(q[cand].sum())
        return float((cens & cand).sum()) / max(expected, 1.0)

    def _checked_exponent(self, fitted: float, device: IntArray) -> float:
        """The fitted exponent shrunk towards the layout's by how much two halves of the
        history disagree (interleaved places): learning from its own fixes, the fit can
        drift where the fixes are wrong, and then the halves, seen from different places,
        do not agree (issue 16). ``exponent_prior_sd`` 0: the fit as is."""
        sd = self.params.exponent_prior_sd
        if sd <= 0:
            return fitted
        n = self._size
        half = (self._place[:n] * 2_654_435_761 >> 7) & 1  # a hash of the floor cell
        rows = [np.flatnonzero(half == h) for h in (0, 1)]
        if min(len(r) for r in rows) < self.params.min_rows:
            return self.prior_exponent  # too few places to check the fit: it does not move
        ends = [self._fit(r, device).exponent for r in rows]
        err2 = ((ends[0] - ends[1]) / 2.0) ** 2
        self.exponent_split = (ends[0], ends[1])
        return self.prior_exponent + sd**2 / (sd**2 + err2) * (fitted - self.prior_exponent)

    def _place_weight(self, n: int) -> FloatArray | None:
        """(n,) weight of each row: one device's readings of one beacon from one place
        share that place's position error, so together they count as ``place_rows``
        rows, not as many as were taken (a phone left at a spot for an hour would
        otherwise fit every beacon offset to its own misplaced fix)."""
        if self.params.place_rows <= 0:
            return None
        key = (self._dev[:n] * self.n_beacons + self._beacon[:n]) * 1_000_003 + self._place[:n]
        _, group, count = np.unique(key, return_inverse=True, return_counts=True)
        return np.minimum(1.0, self.params.place_rows / count[group.reshape(-1)])

    def _refit_body_loss(self, fit: RadioFit, device: IntArray) -> None:
        n = self._size
        walking = np.flatnonzero(np.isfinite(self._cos[:n]))
        if not self.params.fit_body_loss or len(walking) < self.params.body_min_rows:
            return
        cross, log10_d = self._cross[walking], self._log10_d[walking]
        model = (
            fit.beacon_offset_db[self._beacon[walking]]
            + fit.device_offset_db[device[walking]]
            - 10.0 * fit.exponent * log10_d
            - fit.obstacle_loss_db * cross
        )
        residual = self._rssi[walking] - model
        weight = np.minimum(1.0, HUBER_K * fit.scale_db / np.maximum(np.abs(residual), 1e-9))
        body = fit_body_loss(
            residual,
            weight,
            self._cos[walking],
            10.0**log10_d,
            self.prior_body_loss_db,
            self.params,
            self.max_body_loss_db,
        )
        self.body_loss_db = round(body, 1)  # one path-loss table per 0.1 dB


def _padded(fit: RadioFit, n_devices: int) -> RadioFit:
    """``fit`` with a zero offset and no rows for devices it did not see (a device whose rows
    in the history are all censored ones, when the fit took the heard rows only)."""
    short = n_devices - len(fit.device_offset_db)
    if short <= 0:
        return fit
    return replace(
        fit,
        device_offset_db=np.pad(fit.device_offset_db, (0, short)),
        device_rows=np.pad(fit.device_rows, (0, short)),
    )
