"""The incremental engine: observations in time order -> positions and presence events.

Time is the observations' clock, cut into epochs ``(k-1)*epoch_s < t <= k*epoch_s``
aligned to multiples of ``epoch_s``. Epoch k is processed -- the locator observes
its rows and estimates at ``k*epoch_s``, then the presence machines step -- as soon
as an observation at ``k*epoch_s + reorder_s`` or later has arrived: rows up to
``reorder_s`` out of order are re-sorted; rows of an epoch already processed are
*late*, counted in :attr:`Engine.stats` and not used.

Which epochs are processed, and with which rows, depends only on the rows' times
and arrival order, never on how the input is cut into :meth:`Engine.push` calls,
so batch, row-by-row and any chunking give identical output (tests prove it).
``data.detected_at`` of an event is the observation time at which the engine had
what it needed to emit it: the newest row time when its epoch was processed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch, rssi_is_valid
from positioning.errors import PositioningError
from positioning.events import PresenceEvent
from positioning.layout import Layout
from positioning.locator import Locator
from positioning.positions import PositionRows
from positioning.registry import LocatorConfig, build_locator, locator_config
from positioning.visits.dwell import DwellParams
from positioning.visits.machine import DevicePresence, Fix, MachineParams
from positioning.visits.store import EntranceDepth, StoreParams
from positioning.visits.zones import ZoneParams
from positioning.zonemap import ZoneIndex

__all__ = ["Engine", "EngineOutput", "EngineParams", "PositionRows"]

#: Epoch length, seconds: positions at 1 Hz per device (ARCHITECTURE 3.4 asks >= 1 Hz),
#: fine enough for the 3 s enter-latency target.
DEFAULT_EPOCH_S = 1.0
#: Reorder tolerance, seconds: one epoch. The live path needs it: a scan message spans
#: its scan window (instore scan publishes every 0.5 s; instore replay --scan-window),
#: so rows arrive up to ~0.5-1 s out of order across devices. It adds its length to
#: every event's latency; a file known to be time-ordered (the simulator's logs are)
#: can run with 0. Rows later than any buffer compatible with a 3 s latency (Android
#: batch scans deliver seconds late) are counted as late, not waited for.
DEFAULT_REORDER_S = 1.0
#: A device unheard this long (and not in the store) is forgotten, seconds: past the
#: away timeout and the locators' windows, so no state is needed any more.
DEFAULT_FORGET_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class EngineParams:
    """Every threshold of the engine; the reasons are at each default's constant.

    ``epoch_s``/``reorder_s``/``forget_after_s``: :mod:`positioning.engine`;
    ``zones``: :mod:`positioning.visits.zones`; ``dwell``: :mod:`positioning.visits.dwell`;
    ``store``: :mod:`positioning.visits.store`. ``locator`` is the typed configuration
    (:mod:`positioning.registry`) of the locator the engine is given by name; None: that
    locator's defaults.
    """

    epoch_s: float = DEFAULT_EPOCH_S
    reorder_s: float = DEFAULT_REORDER_S
    forget_after_s: float = DEFAULT_FORGET_AFTER_S
    zones: ZoneParams = ZoneParams()
    dwell: DwellParams = DwellParams()
    store: StoreParams = StoreParams()
    locator: LocatorConfig | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class EngineOutput:
    positions: PositionRows
    events: tuple[PresenceEvent, ...]

    @classmethod
    def concat(cls, outputs: Iterable[EngineOutput]) -> EngineOutput:
        outs = list(outputs)
        return cls(
            PositionRows.concat([o.positions for o in outs]),
            tuple(e for o in outs for e in o.events),
        )


class Engine:
    """Positions and presence events of one store, fed observations incrementally."""

    def __init__(
        self,
        layout: Layout,
        params: EngineParams | None = None,
        *,
        locator: str | LocatorConfig | Locator = "tracker",
        seed: int = 0,
    ) -> None:
        self.layout = layout
        self.params = params or EngineParams()
        if not (self.params.epoch_s > 0 and self.params.reorder_s >= 0):
            raise PositioningError(
                f"engine parameters: epoch_s must be > 0 and reorder_s >= 0, got "
                f"{self.params.epoch_s!r} and {self.params.reorder_s!r}"
            )
        self._locator = self._build_locator(locator, seed)
        self._machine_params = MachineParams(
            self.params.zones, self.params.dwell, self.params.store
        )
        self._depth = EntranceDepth(layout)
        self._zones = ZoneIndex(layout)
        self._beacons = np.array(layout.beacon_ids, dtype=str)
        self._pending = ObservationBatch.empty()  # accepted rows of epochs not yet processed
        self._high_s = -math.inf  # newest row time so far
        self._done_k: int | None = None  # last processed epoch
        self._devices: dict[str, DevicePresence] = {}
        self._last_row_s: dict[str, float] = {}
        self._staff: set[str] = set()
        self._finished = False
        self._stats = dict.fromkeys(
            ("rows_in", "rows_used", "rows_late", "rows_bad_time", "rows_bad_rssi",
             "rows_unknown_beacon", "epochs", "positions", "events", "devices", "visits"),
            0,
        )  # fmt: skip

    def _build_locator(self, locator: str | LocatorConfig | Locator, seed: int) -> Locator:
        """``locator`` by name (configured by ``params.locator``, or its defaults), by
        configuration, or an instance used as it is."""
        if isinstance(locator, str):
            config = self.params.locator or locator_config(locator)
            if config.name != locator:
                raise PositioningError(
                    f"engine parameters: locator configuration is for {config.name!r}, "
                    f"but the engine was asked for {locator!r}"
                )
            return build_locator(config, self.layout, seed=seed)
        if isinstance(locator, LocatorConfig):
            return build_locator(locator, self.layout, seed=seed)
        return locator

    @property
    def stats(self) -> dict[str, int]:
        """Row counts (in, used, late, rejected by reason), epochs, positions, events, devices."""
        return {
            **self._stats,
            "staff_devices": len(self._staff),
            "open_devices": len(self._devices),
        }

    @property
    def locator_name(self) -> str:
        return self._locator.name

    # -- input ---------------------------------------------------------------

    def push(self, batch: ObservationBatch) -> EngineOutput:
        """Rows in arrival order; returns what became final. Any chunking gives the same total."""
        self._stats["rows_in"] += len(batch)
        batch = self._valid_rows(batch)
        if len(batch) == 0:
            return EngineOutput(PositionRows.empty(), ())
        e, r = self.params.epoch_s, self.params.reorder_s
        k = np.ceil(batch.t_s / e).astype(np.int64)
        high = np.maximum.accumulate(np.concatenate([[self._high_s], batch.t_s]))
        frontier = np.floor((high - r) / e)  # last epoch final before each row (and after all)
        done_before = (
            frontier[:-1] if self._done_k is None else np.maximum(frontier[:-1], self._done_k)
        )
        late = k <= done_before
        self._stats["rows_late"] += int(late.sum())
        self._pending = _concat(self._pending, batch.take(~late))
        self._high_s = float(high[-1])
        # Epoch k is processed on the arrival of the first row that makes it final.
        triggers = high[1:]
        outputs = []
        last_k = int(frontier[-1]) if math.isfinite(frontier[-1]) else None
        if last_k is not None:
            outputs.append(self._run_until(last_k, triggers, frontier[1:]))
        return EngineOutput.concat(outputs)

    def advance(self, t_s: float) -> EngineOutput:
        """The observation clock reached ``t_s`` with no new rows (timeouts may fire)."""
        if not math.isfinite(t_s) or t_s <= self._high_s:
            return EngineOutput(PositionRows.empty(), ())
        self._high_s = t_s
        k = math.floor((t_s - self.params.reorder_s) / self.params.epoch_s)
        return self._run_until(k, np.array([t_s]), np.array([float(k)]))

    def finish(self) -> EngineOutput:
        """End of input: process every pending epoch and close open visits."""
        if self._finished:
            return EngineOutput(PositionRows.empty(), ())
        self._finished = True
        out = []
        if len(self._pending):
            k = int(np.ceil(self._pending.t_s.max() / self.params.epoch_s))
            end_s = max(self._high_s, k * self.params.epoch_s)
            out.append(self._run_until(k, np.array([end_s]), np.array([float(k)])))
        det_s = max(self._high_s, (self._done_k or 0) * self.params.epoch_s)
        events = [ev for d in sorted(self._devices) for ev in self._devices[d].close(det_s)]
        self._stats["events"] += len(events)
        out.append(EngineOutput(PositionRows.empty(), tuple(events)))
        return EngineOutput.concat(out)

    def _valid_rows(self, batch: ObservationBatch) -> ObservationBatch:
        bad_t = ~np.isfinite(batch.t_s)
        bad_rssi = ~bad_t & ~rssi_is_valid(batch.rssi_dbm)
        unknown = ~bad_t & ~bad_rssi & ~np.isin(batch.beacon_id, self._beacons)
        self._stats["rows_bad_time"] += int(bad_t.sum())
        self._stats["rows_bad_rssi"] += int(bad_rssi.sum())
        self._stats["rows_unknown_beacon"] += int(unknown.sum())
        ok = ~(bad_t | bad_rssi | unknown)
        return batch if ok.all() else batch.take(ok)

    # -- epochs --------------------------------------------------------------

    def _run_until(
        self, last_k: int, triggers: npt.NDArray[np.float64], frontier: npt.NDArray[np.float64]
    ) -> EngineOutput:
        """Process epochs up to ``last_k``; epoch k's detection time is the first trigger
        time whose frontier reached k."""
        if self._done_k is not None and last_k <= self._done_k:
            return EngineOutput(PositionRows.empty(), ())
        rows = self._pending.sorted_by_time()
        k_rows = np.ceil(rows.t_s / self.params.epoch_s).astype(np.int64)
        split = int(np.searchsorted(k_rows, last_k, side="right"))
        self._pending = rows.take(np.arange(split, len(rows)))
        rows, k_rows = rows.take(np.arange(split)), k_rows[:split]
        if self._done_k is not None:
            k = self._done_k + 1
        else:
            k = int(k_rows[0]) if split else last_k + 1
        outputs = []
        while k <= last_k:
            lo = int(np.searchsorted(k_rows, k, side="left"))
            hi = int(np.searchsorted(k_rows, k, side="right"))
            if lo == hi and not self._devices:  # nothing heard and nobody open: jump ahead
                if lo == len(k_rows):
                    break
                k = int(k_rows[lo])
                continue
            i = min(int(np.searchsorted(frontier, k, side="left")), len(triggers) - 1)
            outputs.append(self._epoch(k, rows.take(np.arange(lo, hi)), float(triggers[i])))
            k += 1
        self._done_k = last_k
        return EngineOutput.concat(outputs)

    def _epoch(self, k: int, rows: ObservationBatch, trigger_s: float) -> EngineOutput:
        t_s = k * self.params.epoch_s
        det_s = max(trigger_s, t_s)
        self._stats["epochs"] += 1
        if len(rows):
            self._stats["rows_used"] += len(rows)
            self._locator.observe(rows)
            for device, last in _last_time_per_device(rows).items():
                self._last_row_s[device] = last
                if device not in self._devices:
                    self._stats["devices"] += 1
                    self._devices[device] = DevicePresence(
                        self.layout,
                        self._machine_params,
                        device,
                        device in self._staff,
                        self._zones,
                    )
        fix = self._locator.estimate(t_s)
        devices = [str(d) for d in fix.device_id]
        xy = np.asarray(fix.xy_m, dtype=np.float64).reshape(-1, 2)
        depth = self._depth(xy)
        raw_zone = self._zones(xy)
        zone_gap = self._zones.gap_m(xy)
        sigma = np.asarray(fix.sigma_m, dtype=np.float64)
        # the presence thresholds were measured against the posterior's own spread
        rule_sigma = sigma if fix.spread_m is None else np.asarray(fix.spread_m, np.float64)
        p_inside = (
            np.full(len(devices), math.nan)
            if fix.p_inside is None
            else np.asarray(fix.p_inside, dtype=np.float64)
        )
        p_zone = (
            np.full(len(devices), math.nan)
            if fix.p_zone is None
            else np.asarray(fix.p_zone, dtype=np.float64)
        )
        events: list[PresenceEvent] = []
        zone_idx = np.full(len(devices), -1, dtype=np.int64)
        in_store = np.zeros(len(devices), dtype=bool)
        staff = np.zeros(len(devices), dtype=bool)
        for i, device in enumerate(devices):
            state = self._devices.get(device)
            if state is None:
                continue
            x, y = float(xy[i, 0]), float(xy[i, 1])
            fix_i = Fix(
                t_s,
                x,
                y,
                float(rule_sigma[i]),
                float(depth[i]),
                int(raw_zone[i]),
                self._last_row_s[device],
                float(p_inside[i]),
                float(zone_gap[i]),
                float(p_zone[i]),
            )
            events += state.step(fix_i, det_s)
            zone_idx[i], in_store[i], staff[i] = (
                state.committed_zone,
                state.store.inside,
                state.store.staff,
            )
            if staff[i]:
                self._staff.add(device)
        events += self._quiet_devices(set(devices), t_s, det_s)
        self._stats["events"] += len(events)
        self._stats["visits"] += sum(ev.type == "instore.store.enter" for ev in events)
        zone_names = np.array([""] + [z.name for z in self.layout.zones], dtype=str)
        positions = PositionRows(
            np.full(len(devices), t_s), np.array(devices, dtype=str), xy[:, 0].copy(),
            xy[:, 1].copy(), zone_names[zone_idx + 1], sigma,
            np.asarray(fix.n_beacons, dtype=np.int64), in_store, staff,
        )  # fmt: skip
        self._stats["positions"] += len(positions)
        return EngineOutput(positions, tuple(events))

    def _quiet_devices(self, heard: set[str], t_s: float, det_s: float) -> list[PresenceEvent]:
        """Timeouts of devices without a fix; forget devices gone long enough."""
        events: list[PresenceEvent] = []
        gone = []
        for device in sorted(set(self._devices) - heard):
            state = self._devices[device]
            events += state.tick(t_s, self._last_row_s[device], det_s)
            if state.store.staff:
                self._staff.add(device)
            if state.idle and t_s - self._last_row_s[device] >= self.params.forget_after_s:
                gone.append(device)
        for device in gone:
            del self._devices[device], self._last_row_s[device]
        if gone:
            self._locator.forget(gone)
        return events


def _concat(a: ObservationBatch, b: ObservationBatch) -> ObservationBatch:
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    return ObservationBatch(
        np.concatenate([a.t_s, b.t_s]),
        np.concatenate([a.device_id, b.device_id]),
        np.concatenate([a.beacon_id, b.beacon_id]),
        np.concatenate([a.rssi_dbm, b.rssi_dbm]),
    )


def _last_time_per_device(rows: ObservationBatch) -> dict[str, float]:
    devices, inverse = np.unique(rows.device_id, return_inverse=True)
    last = np.full(len(devices), -np.inf)
    np.maximum.at(last, inverse, rows.t_s)
    return {str(d): float(t) for d, t in zip(devices, last, strict=True)}
