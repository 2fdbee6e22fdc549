"""The tracker: a particle filter per device, vectorised over devices x particles.

Rows are buffered by ``observe`` and processed by ``estimate`` in epochs of
``step_s`` aligned to the estimate times, so any chunking of the same rows gives
the same output. In an epoch, every device heard is moved by a two-mode pedestrian
motion model on the walkable grid (no particle stands in or walks through a shelf,
and the shop front is crossed only at the entrance; the street in front is part of
the grid so passers-by are located outside), weighted by a Student-t RSSI
likelihood with the device's gain offset profiled out, and resampled
(systematic) when the effective sample size drops. New devices, and devices silent
for longer than ``reinit_after_s``, start from the likelihood of their first
epoch on a coarse grid of the walkable floor. Path-loss exponent, per-beacon and
per-device offsets come from :mod:`positioning.tracker.selfcal`, fitted online, and a
correction of the radio map per beacon and floor cell is learned from walking
shoppers' fixes (:mod:`positioning.tracker.radiolearn`, ``learn_radio_map``). Just behind
the glass and just outside it look alike to the radio, so particles now and then try
the mirror image across the shop front, and a track heard for longer than a passer-by
would be loses its street hypotheses (docs/positioning.md, tracker item 6). With
``mode_mean`` the fix is the mean of the particles in the device's more likely mode: a
walker's standing particles, left behind, would otherwise pull it back.

The measurement side (radio maps, self-calibration, packed readings, likelihood) is
:mod:`positioning.tracker.radio`; the shop-front rules and ``p_inside``, the posterior
probability of being inside the store, are :mod:`positioning.tracker.shopfront`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from beacons.observation import ObservationBatch
from positioning.layout import Layout
from positioning.locator import PositionFix
from positioning.signal import (
    DeviceCodes,
    EncodedRows,
    RowBuffer,
    WindowMatrix,
    aggregate,
    encode_batch,
)
from positioning.tracker.door import DoorEvidence, pooled_inside
from positioning.tracker.params import TrackerParams, tracker_params
from positioning.tracker.particles import (
    FloorMap,
    jump_across_front,
    normalise_log_weights,
    predict,
    systematic_picks,
    systematic_resample,
)
from positioning.tracker.radio import TrackerRadio
from positioning.tracker.radiomap import UNKNOWN_HEADING
from positioning.tracker.selfcal import RadioCalibration, SelfCalibrator
from positioning.tracker.shopfront import ShopFront
from positioning.tracker.state import (
    ParticleState,
    Readings,
    candidate_points,
    front_line,
    walking_heading,
)
from positioning.tracker.uncertainty import StillDisagreement
from positioning.tracker.zone_posterior import ZonePosterior
from positioning.walkable import DEFAULT_STREET_DEPTH_M, WalkableGrid

__all__ = ["ParticleTracker"]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _mode_weights(
    w: npt.NDArray[np.float32], still: npt.NDArray[np.bool_], walking: FloatArray
) -> npt.NDArray[np.float32]:
    """(M, N) weights of the particles in each device's more likely mode, renormalised: the
    estimate of a walker is where its walking particles are, not pulled back by the
    standing ones left behind (and a standing device's not by walkers wandering off)."""
    keep = still != (walking > 0.5)[:, None]
    ws = w * keep
    return (ws / np.maximum(ws.sum(axis=1, keepdims=True), 1e-30)).astype(np.float32)


class ParticleTracker:
    """Locator ``tracker`` (interface B). See the module docstring."""

    name = "tracker"

    def __init__(
        self,
        layout: Layout,
        *,
        seed: int = 0,
        params: TrackerParams | None = None,
        calibration: RadioCalibration | None = None,
        **overrides: Any,
    ) -> None:
        """``calibration``: an explicit calibration (:func:`calibrate_at_known_points`) to
        start from; self-calibration refines it unless ``self_calibrate=False``."""
        self.params = p = tracker_params(params, **overrides)
        self.layout = layout
        # a place without a door has no street: every heard device is inside (issue 16.5)
        street_m = DEFAULT_STREET_DEPTH_M if layout.entrance is not None else 0.0
        self.grid = WalkableGrid.from_layout(layout, street_depth_m=street_m)
        self.floor = FloorMap.from_grid(self.grid)
        self.radio = TrackerRadio(
            layout,
            self.grid,
            self.floor,
            radio=p.radio,
            selfcal=p.selfcal,
            detection=p.detection,
            self_calibrate=p.self_calibrate,
            calibration=calibration,
            shopfront_walls=p.shopfront_walls,
            learn_map=p.radio_learn if p.learn_radio_map else None,
        )
        self.front = ShopFront(layout, self.grid, self.floor)
        self.door = DoorEvidence(layout, self.grid, p.door)
        self._zones = ZonePosterior(layout)
        self._still = StillDisagreement()
        self._rng = np.random.default_rng(seed)
        self._devices = DeviceCodes()
        self._beacon_index = layout.beacon_index
        self._pending = RowBuffer()
        self._t_prev: float | None = None
        self._state = ParticleState(p.n_particles)
        self._candidates = candidate_points(self.grid, p.init_cell_m)
        self._cand_prior = self.front.start_prior(layout, self._candidates)
        self._front_line = front_line(layout)
        _, (iy, ix) = ndimage.distance_transform_edt(~self.grid.free, return_indices=True)
        self._snap_index = (np.asarray(iy), np.asarray(ix))
        self._beacon_snapped = self._snap(layout.beacon_xy).astype(np.float32)
        self.rejected = {"unknown_beacon": 0, "invalid_rssi": 0}
        self.lost_resets = 0

    @property
    def calibration(self) -> SelfCalibrator:
        """The online radio model (exponent, obstacle loss, beacon and device offsets)."""
        return self.radio.calibration

    # -- interface B -------------------------------------------------------------------
    def observe(self, batch: ObservationBatch) -> None:
        enc = encode_batch(batch, self._beacon_index, self._devices)
        self.rejected["unknown_beacon"] += enc.unknown_beacon
        self.rejected["invalid_rssi"] += enc.invalid_rssi
        self._pending.append(enc.rows)

    def estimate(self, t_s: float) -> PositionFix:
        rows = self._pending.rows()
        due = rows.t_s <= t_s
        self._pending = RowBuffer()
        self._pending.append(rows.take(~due))
        self._run_epochs(rows.take(due), t_s)
        self._t_prev = t_s if self._t_prev is None else max(self._t_prev, t_s)
        self._expire(t_s)
        return self._fix(t_s)

    def forget(self, device_ids: Iterable[str]) -> None:
        codes = self._devices.lookup(device_ids)
        if len(codes):
            self._state.release(codes)
            self._pending.drop_devices(codes)

    # -- epochs ------------------------------------------------------------------------
    def _run_epochs(self, rows: EncodedRows, t_s: float) -> None:
        if len(rows) == 0:
            return
        step = self.params.step_s
        t0 = self._t_prev
        if t0 is None:
            t0 = t_s - step * np.ceil((t_s - float(rows.t_s.min())) / step + 1e-9)
        k = np.maximum(np.ceil((rows.t_s - t0) / step - 1e-9).astype(np.int64) - 1, 0)
        order = np.argsort(k, kind="stable")
        rows, k = rows.take(order), k[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        for a, b in zip(starts, np.r_[starts[1:], len(k)], strict=True):
            self._epoch(rows.take(np.arange(a, b)))

    def _epoch(self, rows: EncodedRows) -> None:
        win = aggregate(rows, len(self.layout.beacons))
        step = self.params.chunk_devices
        for a in range(0, len(win.device), step):
            part = slice(a, a + step)
            mean_t = None if win.mean_t_s is None else win.mean_t_s[part]
            self._epoch_devices(
                WindowMatrix(
                    win.device[part],
                    win.rssi_dbm[part],
                    win.count[part],
                    win.last_t_s[part],
                    mean_t,
                )
            )

    def _epoch_devices(self, win: WindowMatrix) -> None:
        p, st = self.params, self._state
        slots, fresh = st.ensure(win.device)
        stale = ~fresh & (win.last_t_s - st.t_upd[slots] > p.reinit_after_s)
        new = fresh | stale
        readings = self._readings(win, np.where(new[:, None], np.nan, st.est_xy[slots]))
        if new.any():
            st.reset(slots[new], self._grid_draw(readings.take(new), p.n_particles), self._rng)
            st.t_start[slots[new]] = win.last_t_s[new]
        old = ~new
        if old.any():
            dt = win.last_t_s[old] - st.t_upd[slots[old]]
            self._propagate(slots[old], win.last_t_s[old])
            settled = win.last_t_s[old] - st.t_start[slots[old]] > p.street_transit_s
            # readings were taken on average this long before the particles' time: walkers
            # are compared with where they were then, not where they are now
            mean_t = win.last_t_s
            if p.score_at_reading_time and win.mean_t_s is not None:
                mean_t = win.mean_t_s
            ago = (win.last_t_s - mean_t)[old]
            self._update(slots[old], readings.take(old), np.where(settled, dt, 0.0), ago)
        t_before = np.where(new, win.last_t_s, st.t_upd[slots])
        st.t_upd[slots] = win.last_t_s
        st.last_heard[slots] = win.last_t_s
        st.n_beacons[slots] = win.n_beacons
        pos, w, still = st.pos[slots], st.w[slots], st.still[slots]
        walk_w = w * ~still
        walking = np.asarray(np.sum(walk_w, axis=1, dtype=np.float64))
        outside = self.front.outside(pos)  # the street test, once for both means
        mean, sigma, st.est_inside[slots] = self.front.summarise(pos, w, outside)
        if self.door.enabled:  # issue 17.2: the readings' own inside/street evidence
            p_door = self.door.update(self.radio, slots, new, win.last_t_s - t_before, readings)
            st.est_inside[slots] = pooled_inside(st.est_inside[slots], p_door, p.door.weight)
        if p.mode_mean:
            mean = self.front.mean(pos, _mode_weights(w, still, walking), outside)
        st.est_xy[slots] = self._snap(mean)
        still_m = self._model_check(slots, readings, win, fresh, win.last_t_s - t_before, walking)
        st.est_spread[slots] = sigma
        honest = self._honest_sigma(sigma, st.fit2[slots], st.dis2[slots], still_m)
        honest = self._learned_sigma(honest)
        st.est_sigma[slots] = self._stand_sigma(
            self._walking_sigma(honest, walking), slots, walking
        )
        # p_zone from the cloud as it is and widened about the fix to the honest radius (16.3);
        # not by a stand's bias: p_zone's calibration was measured worse with it (session 30)
        grow = honest / np.maximum(sigma, 0.05)
        st.est_zone_p[slots] = self._zones.honest_p_zone(
            pos, w, st.est_xy[slots], grow, p.zone_p_model_weight
        )
        st.count_mode_age(slots, walking > 0.5, win.last_t_s - t_before)
        heading = walking_heading(walk_w, st.heading[slots])
        self.radio.learn(
            win, mean, sigma, p.missing_beacons > 0, walking if p.learn_radio_map else None, heading,
            (pos, w, grow),
        )  # fmt: skip

    def _model_check(
        self,
        slots: IntArray,
        r: Readings,
        win: WindowMatrix,
        fresh: npt.NDArray[np.bool_],
        dt_s: FloatArray,
        walking: FloatArray,
    ) -> FloatArray:
        """Update each device's running fit statistic: the mean squared standardised residual
        of its readings at the fix (device offset profiled out; 1 when the model holds), and
        the mean squared distance of the fix to the model-free fix (the weighted centroid).
        Returns (M,) the still-stretch disagreement, m (:mod:`.uncertainty`; 0 when off)."""
        st, p = self._state, self.params
        xy = st.est_xy[slots]
        loss = self.radio.path_loss(xy.astype(np.float32)[:, None, :], r.beacon)[:, 0, :]
        power = (self.radio.tx_power_dbm + self.radio.calibration.beacon_offset_db)[r.beacon]
        resid = r.rssi_dbm.astype(np.float64) - (power - loss)
        heard = r.count > 0
        var = p.radio.sigma_fast_db**2 / np.maximum(r.count, 1) + p.radio.sigma_slow_db**2
        w = heard / var
        offset = (w * resid).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)
        n = heard.sum(axis=1)
        z2 = np.where(heard, (resid - offset[:, None]) ** 2 / var, 0.0).sum(axis=1)
        fit2 = np.where(n >= 3, z2 / np.maximum(n - 1, 1), 1.0)
        off = np.zeros((len(slots), 2))
        if p.sigma_centroid_debias or p.sigma_still_scale > 0:
            # compare the centroid heard with the one expected at the fix: the centroid's
            # own pull to the beacons' middle (metres on a large store) is not the fix's error
            heard_all = win.count > 0
            # r.centroid: the weighted centroid of these readings (the self-calibration
            # learns after this check, so under the same exponent)
            off = r.centroid - self.radio.centroid_at(xy, heard_all)
        if p.sigma_centroid_debias:
            dis2 = np.sum(off**2, axis=1)
        else:
            dis2 = np.sum((xy - r.proposals[:, 0, :]) ** 2, axis=1)
        a = np.where(fresh, 1.0, -np.expm1(-np.maximum(dt_s, 0.0) / p.check_tau_s))
        st.fit2[slots] += a * (fit2 - st.fit2[slots])
        st.dis2[slots] += a * (dis2 - st.dis2[slots])
        if p.sigma_still_scale <= 0 and p.sigma_stand_m <= 0:
            return np.zeros(len(slots))
        return self._still.update(slots, off, fresh | (walking > 0.5), p.sigma_still_noise_m)

    def _honest_sigma(
        self, spread: FloatArray, fit2: FloatArray, dis2: FloatArray, still_m: FloatArray
    ) -> FloatArray:
        """The reported 1-sigma radius: the particles' spread, widened by how badly the model
        fits the readings, by how far the fix sits from the model-free one, and by the
        model-free fix's persistent disagreement over the current still stretch."""
        p = self.params
        k = np.sqrt(np.maximum(fit2, 1.0))
        return np.sqrt(
            (p.sigma_spread_scale * k * spread) ** 2 + p.sigma_disagree_scale**2 * dis2
            + (p.sigma_still_scale * still_m) ** 2 + p.sigma_floor_m**2
        )  # fmt: skip

    def _learned_sigma(self, honest: FloatArray) -> FloatArray:
        """The honest radius shrunk as the store is learned (issue 16.3; off: the identity)."""
        p = self.params
        if p.sigma_learned_rows > 0 and self.radio.learner is not None:
            learner = self.radio.learner
            rows = learner.rows / max(learner.n_beacons, 1)  # per beacon: stores differ in size
            f = p.sigma_learned_share
            honest = honest * np.sqrt(
                f + (1.0 - f) * p.sigma_learned_rows / (p.sigma_learned_rows + rows)
            )
        return honest

    def _walking_sigma(self, honest: FloatArray, walking: FloatArray) -> FloatArray:
        """The radius of a walking cloud scaled by ``sigma_walk_scale`` (1: the identity)."""
        s = self.params.sigma_walk_scale
        if s == 1.0:
            return honest
        return honest * (1.0 - (1.0 - s) * np.clip(walking, 0.0, 1.0))

    def _stand_sigma(self, honest: FloatArray, slots: IntArray, walking: FloatArray) -> FloatArray:
        """The radius widened by a stand's bias (issue 16.3; off: the identity)."""
        p = self.params
        if p.sigma_stand_m <= 0:
            return honest
        n = np.where(walking > 0.5, 0.0, self._still.epochs(slots))
        stand = p.sigma_stand_m * n / (n + p.sigma_stand_epochs)
        return np.sqrt(honest**2 + stand**2)

    def _readings(self, win: WindowMatrix, anchor_xy: FloatArray) -> Readings:
        p = self.params
        return self.radio.readings(
            win, anchor_xy, p.max_beacons, p.missing_beacons, self._snap, self._beacon_snapped
        )

    def _standing_body(self) -> bool:
        """Whether standing particles get the body loss of their heading. Only once
        ``standing_body_after_rows`` rows of walkers have been seen: a standing particle's
        heading is free to explain any pattern with a body, and a phone on a stand or a
        long stationary recording has none (walkers' rows are what the body loss is
        fitted from; without the fit, always)."""
        p = self.params
        if not (p.self_calibrate and p.selfcal.fit_body_loss):
            return True
        return self.radio.calibration.walker_rows >= p.standing_body_after_rows

    def _grid_draw(self, r: Readings, n: int) -> npt.NDArray[np.float32]:
        """(M, n, 2) points drawn from this epoch's likelihood over the walkable floor."""
        p, cand = self.params, self._candidates
        out = np.empty((len(r.beacon), n, 2), dtype=np.float32)
        chunk = max(1, 262_144 // max(1, len(cand)))
        for a in range(0, len(r.beacon), chunk):
            part = r.take(slice(a, a + chunk))
            ll = self.radio.loglik(np.broadcast_to(cand, (len(part.beacon), *cand.shape)), part)
            w, _ = normalise_log_weights(ll * np.float32(p.init_temper) + self._cand_prior)
            pick = systematic_picks(
                w, self._rng, np.linspace(0, w.shape[1] - 1, n).astype(np.int64)
            )
            pos = cand[pick]
            moved = pos + self._rng.uniform(-0.5, 0.5, pos.shape).astype(np.float32) * p.init_cell_m
            out[a : a + chunk] = self._walkable_or(moved, pos)
        return out

    def _walkable_or(
        self, moved: npt.NDArray[np.float32], pos: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """(M, N, 2) ``moved`` (written in place) where it is walkable, else ``pos``: as
        np.where(free[..., None], moved, pos), per plane (a mask broadcast along a trailing
        axis of 2 costs ~5x more)."""
        blocked = ~self.floor.is_free(moved)
        for axis in (0, 1):
            np.copyto(moved[..., axis], pos[..., axis], where=blocked)
        return moved

    def _propagate(self, slots: IntArray, t_to: FloatArray) -> None:
        st, p = self._state, self.params
        dt = np.maximum(t_to - st.t_upd[slots], 0.0)
        n_sub = np.maximum(np.ceil(dt / p.max_substep_s - 1e-9), 1).astype(np.int64)
        for n in np.unique(n_sub):
            group = slots[n_sub == n]
            sub_dt = dt[n_sub == n] / n
            pos, vel, still, head = st.pos[group], st.vel[group], st.still[group], st.heading[group]
            age = st.mode_age[group]
            for _ in range(int(n)):
                pos, vel, still, head = predict(
                    pos, vel, still, head, sub_dt, self.floor, self._rng, p.motion, age
                )
            pos = jump_across_front(
                pos,
                vel,
                dt[n_sub == n],
                self._front_line,
                p.front_jump_per_s,
                self.floor,
                self._rng,
            )
            st.pos[group], st.vel[group], st.still[group], st.heading[group] = pos, vel, still, head

    def _update(
        self, slots: IntArray, r: Readings, street_s: FloatArray, ago_s: FloatArray
    ) -> None:
        """Weight by the likelihood and the street prior (``street_s`` (M,) seconds it
        applies for, 0 for tracks younger than a passer-by's transit); resample when the
        ESS is low or the device looks lost."""
        st, p = self._state, self.params
        then = st.pos[slots]
        if ago_s.any():  # readings taken before the particles' time (score_at_reading_time)
            then = then - st.vel[slots] * ago_s.astype(np.float32)[:, None, None]
        heading = st.heading[slots]
        if not self._standing_body():  # a standing particle's heading is a guess: no body side
            heading = np.where(st.still[slots], np.uint8(UNKNOWN_HEADING), heading)
        ll = self.radio.loglik(then, r, heading)
        lost = self.radio.loglik(r.proposals, r).max(axis=1) > ll.max(axis=1) + p.lost_margin_nats
        if p.still_evidence_s > 0:  # a still device's epochs share one shadowing draw
            stood = np.maximum(st.mode_age[slots, 1], 1e-9)
            ll = ll * np.minimum(1.0, p.still_evidence_s / stood).astype(np.float32)[:, None]
        settled = np.flatnonzero(street_s > 0)
        if len(settled):
            at = slots[settled]
            penalty, outside = self.front.street_penalty(
                st.pos[at], st.w[at], st.still[at], street_s[settled], p.street_nats_per_s
            )
            ll[settled] -= penalty
            lost[settled] |= outside
        w, _ = normalise_log_weights(np.log(np.maximum(st.w[slots], 1e-30)) + ll)
        ess = 1.0 / np.sum(w.astype(np.float64) ** 2, axis=1)
        low = (ess < p.resample_ess_fraction * p.n_particles) | lost
        st.w[slots] = w
        if not low.any():
            return
        rs = slots[low]
        idx = systematic_resample(w[low], self._rng)
        st.take(rs, idx)
        pos = st.pos[rs]
        moved = pos + self._rng.normal(0.0, p.roughen_m, pos.shape).astype(np.float32)
        pos = self._walkable_or(moved, pos)
        if lost.any():
            n_new = max(1, int(p.lost_inject_fraction * p.n_particles))
            lost_rows = lost[low]
            pos[lost_rows, :n_new] = self._grid_draw(r.take(lost), n_new)
            st.vel[rs[lost_rows], :n_new] = 0.0
            self.lost_resets += int(lost.sum())
        st.pos[rs] = pos

    # -- output ------------------------------------------------------------------------
    def _snap(self, xy: FloatArray) -> FloatArray:
        """Estimates inside an obstacle (a mean of particles around a shelf) move to the nearest free cell."""
        bad = ~self.floor.is_free(xy.astype(np.float32))
        if bad.any():
            ix, iy = self.grid.cell_of(xy[bad])
            jy, jx = self._snap_index[0][iy, ix], self._snap_index[1][iy, ix]
            xy = xy.copy()
            xy[bad] = self.grid.cell_centre(jx, jy)
        return xy

    def _expire(self, t_s: float) -> None:
        st = self._state
        gone = st.active_codes(st.last_heard < t_s - self.params.forget_after_s)
        if len(gone):
            st.release(gone)

    def _fix(self, t_s: float) -> PositionFix:
        st = self._state
        slots = st.active_slots(st.last_heard > t_s - self.params.window_s)
        if len(slots) == 0:
            return PositionFix.empty(t_s)
        ids = self._devices.ids(st.code[slots])
        order = np.argsort(ids, kind="stable")
        slots = slots[order]
        return PositionFix(
            t_s,
            ids[order],
            st.est_xy[slots].copy(),
            st.est_sigma[slots].copy(),
            st.n_beacons[slots].copy(),
            st.est_inside[slots].copy(),
            st.est_zone_p[slots].copy(),
            st.est_spread[slots].copy(),
        )
