"""One device's presence: store, zone and dwell machines, reconciled into events.

The three machines run on every fix; this module decides which of their states
become events. Zone and dwell intervals are only emitted inside a store visit of a
non-staff device, so every ``zone.enter`` has its ``zone.exit`` and both fall
inside the visit's ``store.enter``/``store.exit``. Order per device and epoch:
store.enter, dwell.end, zone.exit, zone.enter, dwell.start, store.exit. A dwell keeps
the zone of its stops (sim/truth.py) even when the committed zone flickers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
    PresenceEvent,
)
from positioning.layout import Layout
from positioning.visits.dwell import DwellChange, DwellDetector, DwellParams
from positioning.visits.store import EntranceDepth, StoreChange, StoreParams, StorePresence
from positioning.visits.zones import ZoneHysteresis, ZoneParams
from positioning.zonemap import NO_ZONE, ZoneIndex

__all__ = ["DevicePresence", "Fix", "MachineParams"]


@dataclass(frozen=True, slots=True)
class MachineParams:
    zones: ZoneParams
    dwell: DwellParams
    store: StoreParams


@dataclass(frozen=True, slots=True)
class Fix:
    """One device's fix at an epoch, with what the machines need besides the position."""

    t_s: float
    x_m: float
    y_m: float
    sigma_m: float
    depth_m: float  # into the store across the entrance side
    raw_zone: int  # zone index by geometry, -1 none
    last_row_s: float  # time of the device's newest observation row
    p_inside: float = math.nan  # the locator's probability of being inside, NaN: none
    zone_gap_m: float = math.inf  # distance to the nearest zone, 0 inside one, inf: unknown
    p_zone: float = math.nan  # the locator's probability of the fix's zone, NaN: none


@dataclass(slots=True)
class _Open:
    """An emitted, not yet closed interval (zone or dwell)."""

    zone: int
    start_s: float
    x_m: float
    y_m: float


class DevicePresence:
    """All presence state of one device; returns the events each step makes final."""

    __slots__ = (
        "_layout",
        "_zone_at",
        "_params",
        "device_id",
        "store",
        "zones",
        "dwell",
        "_zone",
        "_dwell",
        "_visit",
    )

    def __init__(
        self,
        layout: Layout,
        params: MachineParams,
        device_id: str,
        staff: bool,
        zone_index: ZoneIndex,
    ) -> None:
        self._layout = layout
        self._zone_at = zone_index.at
        self._params = params
        self.device_id = device_id
        self.store = StorePresence(
            params.store, has_street=layout.entrance is not None, door=EntranceDepth(layout)
        )
        self.store.staff = staff
        self.zones = ZoneHysteresis(layout, params.zones)
        self.dwell = DwellDetector(params.dwell, self._zone_at)
        self._zone: _Open | None = None
        self._dwell: _Open | None = None
        self._visit = False  # the open visit's store.enter was emitted (not staff)

    @property
    def committed_zone(self) -> int:
        return self.zones.zone

    def step(self, fix: Fix, detected_at_s: float) -> list[PresenceEvent]:
        """A fix at epoch ``fix.t_s``."""
        t_s, x_m, y_m, raw_zone = fix.t_s, fix.x_m, fix.y_m, fix.raw_zone
        store = self.store.update(t_s, x_m, y_m, fix.depth_m, fix.sigma_m, fix.p_inside)
        if store is None:
            store = self.store.tick(t_s, fix.last_row_s)
        zone = self.zones.update(t_s, raw_zone, x_m, y_m, fix.zone_gap_m, fix.p_zone, fix.sigma_m)
        dwell = self.dwell.update(t_s, x_m, y_m)
        out: list[PresenceEvent] = []
        if store is not None and store.entered and not self.store.staff:
            self._visit = True
            out.append(self._event(STORE_ENTER, store.t_s, detected_at_s, store.x_m, store.y_m))
        leaving = store if store is not None and not store.entered else None
        end_s = leaving.t_s if leaving is not None else (zone.t_s if zone is not None else t_s)
        out += self._reconcile_dwell(dwell, leaving, t_s, detected_at_s)
        out += self._reconcile_zone(end_s, x_m, y_m, detected_at_s)
        if self._dwell is None and self._dwell_wanted():
            out += self._open_dwell(detected_at_s)
        if leaving is not None:
            out += self._leave(leaving, detected_at_s)
        return out

    def tick(self, t_s: float, last_row_s: float, detected_at_s: float) -> list[PresenceEvent]:
        """No fix at epoch ``t_s``: only the away timeout can fire."""
        change = self.store.tick(t_s, last_row_s)
        return [] if change is None else self._close_all(change, detected_at_s)

    def close(self, detected_at_s: float) -> list[PresenceEvent]:
        """End of input: close the open visit and its intervals."""
        change = self.store.close()
        return [] if change is None else self._close_all(change, detected_at_s)

    @property
    def idle(self) -> bool:
        """Nothing open: the device's state may be dropped once it is unheard."""
        return not self.store.inside

    def _active(self) -> bool:
        return self._visit and self.store.inside and not self.store.staff

    def _dwell_wanted(self) -> bool:
        return self._active() and self.dwell.active

    def _reconcile_dwell(
        self, change: DwellChange | None, leaving: StoreChange | None, t_s: float, det_s: float
    ) -> list[PresenceEvent]:
        if self._dwell is None or self._dwell_wanted():
            return []
        end_s = change.t_s if change is not None and not change.started else t_s
        if leaving is not None:
            end_s = min(end_s, leaving.t_s)
        return self._close_dwell(end_s, det_s)

    def _reconcile_zone(
        self, end_s: float, x_m: float, y_m: float, det_s: float
    ) -> list[PresenceEvent]:
        want = self.zones.zone if self._active() else NO_ZONE
        current = self._zone.zone if self._zone is not None else NO_ZONE
        if want == current:
            return []
        out: list[PresenceEvent] = []
        if self._zone is not None:
            out.append(self._closing(ZONE_EXIT, self._zone, end_s, det_s, x_m, y_m))
            self._zone = None
        if want != NO_ZONE:
            start = max(
                self.zones.since_s,
                self.store.visit_start_s,
                end_s if current != NO_ZONE else -math.inf,
            )
            self._zone = _Open(want, start, x_m, y_m)
            name = self._layout.zones[want].name
            out.append(self._event(ZONE_ENTER, start, det_s, x_m, y_m, name))
        return out

    def _open_dwell(self, det_s: float) -> list[PresenceEvent]:
        x, y = self.dwell.anchor
        zone = self.dwell.zone
        if zone == NO_ZONE:  # events name a zone (ARCHITECTURE 3.3); a dwell outside zones has none
            return []
        start = max(self.dwell.dwell_start_s, self.store.visit_start_s)
        self._dwell = _Open(zone, start, x, y)
        return [self._event(DWELL_START, start, det_s, x, y, self._layout.zones[zone].name)]

    def _close_dwell(self, end_s: float, det_s: float) -> list[PresenceEvent]:
        if self._dwell is None:
            return []
        event = self._closing(
            DWELL_END, self._dwell, end_s, det_s, self._dwell.x_m, self._dwell.y_m
        )
        self._dwell = None
        return [event]

    def _close_all(self, change: StoreChange, det_s: float) -> list[PresenceEvent]:
        self.dwell.end(change.t_s)
        out = self._close_dwell(change.t_s, det_s)
        if self._zone is not None:
            out.append(
                self._closing(ZONE_EXIT, self._zone, change.t_s, det_s, change.x_m, change.y_m)
            )
            self._zone = None
        return out + self._leave(change, det_s)

    def _leave(self, change: StoreChange, det_s: float) -> list[PresenceEvent]:
        visit = _Open(NO_ZONE, change.visit_start_s, change.x_m, change.y_m)
        event = self._closing(STORE_EXIT, visit, change.t_s, det_s, change.x_m, change.y_m)
        emitted, self._visit = self._visit, False
        self.zones = ZoneHysteresis(self._layout, self._params.zones)
        self.dwell = DwellDetector(self._params.dwell, self._zone_at)
        return [event] if emitted else []

    def _closing(
        self, etype: str, interval: _Open, end_s: float, det_s: float, x_m: float, y_m: float
    ) -> PresenceEvent:
        start_s = _ms(interval.start_s)
        end_s = max(_ms(end_s), start_s)
        zone = self._layout.zones[interval.zone].name if interval.zone != NO_ZONE else None
        return PresenceEvent(
            etype,
            self._layout.name,
            self.device_id,
            end_s,
            max(_ms(det_s), end_s),
            x_m,
            y_m,
            zone,
            _ms(end_s - start_s),
        )

    def _event(
        self, etype: str, t_s: float, det_s: float, x_m: float, y_m: float, zone: str | None = None
    ) -> PresenceEvent:
        t_s = _ms(t_s)
        return PresenceEvent(
            etype, self._layout.name, self.device_id, t_s, max(_ms(det_s), t_s), x_m, y_m, zone
        )


def _ms(t_s: float) -> float:
    """Times to the millisecond: the resolution of the CloudEvents ``time`` and of the event
    id (positioning.events), so an event read back from JSON has the id it was sent with."""
    return round(t_s, 3)
