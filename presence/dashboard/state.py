"""The live state the staff dashboard shows, updated from bus messages.

Pure: every update takes its time from the message (the observations' clock), never
from the wall clock, so a replay at any speed and a test with hand-made messages see
the same state. The server turns bus messages into the records below and renders
:meth:`DashboardState.snapshot` as JSON for the page.

Names and profile cards come ONLY from staff alerts (the CRM lookup publishes those
for customers with personalization consent); every other shopper stays an anonymous
dot labelled by a short pseudonym. What leaves the state for the page is only what
staff act on: no device id (a keyed hash made fresh each run stands for it, so the page
cannot be matched to the bus), no customer id, and of a card only the fields the page
shows (:data:`CARD_FIELDS`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
    PresenceEvent,
)

__all__ = [
    "STALE_AFTER_S",
    "HEATMAP_CELL_M",
    "WELCOME_LOG_SIZE",
    "MAX_SCANNERS",
    "HANDLE_HEX",
    "LABEL_HEX",
    "CARD_FIELDS",
    "PURCHASE_FIELDS",
    "ORDER_FIELDS",
    "PositionUpdate",
    "ScannerStatus",
    "StaffAlert",
    "WelcomeRecord",
    "Shopper",
    "handle",
    "pseudonym",
    "staff_card",
    "DashboardState",
]


#: A device not positioned for this long (observation clock) leaves the map: the
#: engine emits store.exit after its own timeout, this only guards against a missed exit.
STALE_AFTER_S = 120.0

#: Heatmap cell edge; 1 m is the scale at which staff reason about a floor and
#: about the accuracy of BLE positioning (1-3 m), so finer cells would show noise.
HEATMAP_CELL_M = 1.0

#: Entries kept in the welcome log shown to staff (older ones are in the CRM database).
WELCOME_LOG_SIZE = 60
#: Scanners kept: a store has a handful. Every broker user may write status topics
#: (docs/security.md), so made-up scanner names must not grow the state and the page.
MAX_SCANNERS = 64

#: Hex digits of a shopper's handle: 12 (48 bits) keep handles of one run distinct;
#: the label shows the first 4, enough for staff to tell the dots near them apart.
HANDLE_HEX = 12
LABEL_HEX = 4

#: The card fields the page shows (the CRM's card also has ids, birthday, dates).
CARD_FIELDS = ("loyalty_tier", "language", "spend_12m_eur", "segments")
PURCHASE_FIELDS = ("category", "channel", "amount_eur")
ORDER_FIELDS = ("items", "pickup_point")


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """One position of a device, as published on the positions topic."""

    device_id: str
    t_s: float
    x_m: float
    y_m: float
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class StaffAlert:
    """A profile card for staff: only published for customers with personalization consent."""

    device_id: str
    t_s: float
    name: str
    card: Mapping[str, Any]
    alerts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScannerStatus:
    """A Bluetooth scanner's status message (``status/scan-<device>``, docs/mqtt.md).

    ``connected`` is False when the scanner's process left the bus (its last will);
    ``adapter`` is "scanning" or "lost" (the adapter went away and restarts fail), None
    when the message does not say (the bus client's bare "online"). Times are the
    scanner's clock: ``since_s`` when the adapter state began, ``last_heard_s`` its last
    advertisement, ``t_s`` when the message was composed (None in a last will).
    """

    device_id: str
    connected: bool
    adapter: str | None = None
    since_s: float | None = None
    last_heard_s: float | None = None
    problem: str = ""
    t_s: float | None = None


@dataclass(frozen=True, slots=True)
class WelcomeRecord:
    """A welcome decision: ``sent`` (with the template) or ``suppressed`` (with the reason)."""

    device_id: str
    t_s: float
    outcome: str
    reason: str = ""
    template: str = ""
    key: str = ""


@dataclass(slots=True)
class Shopper:
    device_id: str
    last_t_s: float
    x_m: float | None = None
    y_m: float | None = None
    zone: str | None = None
    in_store: bool = False
    entered_t_s: float | None = None
    dwelling: bool = False
    name: str | None = None
    card: Mapping[str, Any] | None = None
    alerts: tuple[str, ...] = ()


def handle(device_id: str, key: bytes) -> str:
    """A device's stand-in on the page: stable for one run, unlinkable without ``key``."""
    return hmac.new(key, device_id.encode(), hashlib.sha256).hexdigest()[:HANDLE_HEX]


def pseudonym(device_id: str, key: bytes) -> str:
    """The label staff read for an anonymous shopper, e.g. ``Shopper 3f2a``."""
    return "Shopper " + handle(device_id, key)[:LABEL_HEX]


def staff_card(card: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a profile card the page shows; everything else stays off the wire."""
    out = {k: card[k] for k in CARD_FIELDS if k in card}
    purchases = card.get("recent_purchases")
    if isinstance(purchases, list):
        out["recent_purchases"] = [_pick(p, PURCHASE_FIELDS) for p in purchases[:3]]
    orders = card.get("orders_ready")
    if isinstance(orders, list):
        out["orders_ready"] = [_pick(o, ORDER_FIELDS) for o in orders]
    return out


def _pick(item: object, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: item[k] for k in keys if k in item} if isinstance(item, Mapping) else {}


@dataclass(slots=True)
class DashboardState:
    """Who is where, zone occupancy, alerts, the welcome log and heatmap counts."""

    width_m: float
    height_m: float
    zones: tuple[str, ...] = ()
    shoppers: dict[str, Shopper] = field(default_factory=dict)
    welcome_log: deque[WelcomeRecord] = field(
        default_factory=lambda: deque(maxlen=WELCOME_LOG_SIZE)
    )
    welcomes_sent: int = 0
    welcomes_suppressed: int = 0
    events_seen: int = 0
    clock_s: float = 0.0
    version: int = 0
    heat: list[int] = field(default_factory=list)
    scanners: dict[str, ScannerStatus] = field(default_factory=dict)
    scanners_refused: int = 0  # new scanners beyond MAX_SCANNERS, none of them offline
    #: Key of the page's handles, new each run (see :func:`handle`).
    key: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    _seen_keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        nx, ny = self.heat_shape
        self.heat = [0] * (nx * ny)

    @property
    def heat_shape(self) -> tuple[int, int]:
        return (
            max(1, math.ceil(self.width_m / HEATMAP_CELL_M)),
            max(1, math.ceil(self.height_m / HEATMAP_CELL_M)),
        )

    def _shopper(self, device_id: str, t_s: float) -> Shopper:
        s = self.shoppers.get(device_id)
        if s is None:
            s = self.shoppers[device_id] = Shopper(device_id, t_s)
        s.last_t_s = max(s.last_t_s, t_s)
        return s

    def _tick(self, t_s: float) -> None:
        self.clock_s = max(self.clock_s, t_s)
        self.version += 1

    def apply_event(self, event: PresenceEvent) -> None:
        """A presence event: store/zone enter and exit, dwell start and end."""
        self.events_seen += 1
        self._tick(event.time_s)
        if event.type == STORE_EXIT:
            self.shoppers.pop(event.device_id, None)
            return
        s = self._shopper(event.device_id, event.time_s)
        s.x_m, s.y_m = event.x_m, event.y_m
        if event.type == STORE_ENTER:
            s.in_store = True
            s.entered_t_s = event.time_s
        elif event.type == ZONE_ENTER:
            s.in_store, s.zone = True, event.zone
        elif event.type == ZONE_EXIT and s.zone == event.zone:
            s.zone, s.dwelling = None, False
        elif event.type == DWELL_START:
            s.dwelling = True
        elif event.type == DWELL_END:
            s.dwelling = False

    def apply_position(self, pos: PositionUpdate) -> None:
        """A position fix; counts into the heatmap when it lies inside the store."""
        self._tick(pos.t_s)
        s = self._shopper(pos.device_id, pos.t_s)
        s.x_m, s.y_m = pos.x_m, pos.y_m
        inside = 0.0 <= pos.x_m <= self.width_m and 0.0 <= pos.y_m <= self.height_m
        if pos.zone is not None:
            s.zone = pos.zone or None
        if inside:
            nx, ny = self.heat_shape
            i = min(int(pos.x_m / HEATMAP_CELL_M), nx - 1)
            j = min(int(pos.y_m / HEATMAP_CELL_M), ny - 1)
            self.heat[j * nx + i] += 1

    def apply_staff_alert(self, alert: StaffAlert) -> None:
        """Names the shopper; the only way a name ever enters the state."""
        self._tick(alert.t_s)
        s = self._shopper(alert.device_id, alert.t_s)
        s.in_store = True
        s.name, s.card, s.alerts = alert.name, alert.card, alert.alerts

    def apply_welcome(self, record: WelcomeRecord) -> None:
        """A welcome decision; the same decision seen twice (bus and database) counts once."""
        key = record.key or f"{record.device_id}|{record.outcome}|{record.t_s:.3f}"
        if key in self._seen_keys:
            return
        self._seen_keys.add(key)
        self._tick(record.t_s)
        self.welcome_log.appendleft(record)
        if record.outcome == "sent":
            self.welcomes_sent += 1
        else:
            self.welcomes_suppressed += 1

    def apply_scanner_status(self, status: ScannerStatus) -> None:
        """A scanner's status; a message without adapter state keeps the one known, and a
        scanner gone from the bus is offline since the message (or the state's clock)."""
        known = self.scanners.get(status.device_id)
        if status.connected and status.adapter is None:
            if known is None:
                return
            status = ScannerStatus(
                status.device_id,
                True,
                known.adapter,
                known.since_s,
                known.last_heard_s,
                known.problem,
                status.t_s,
            )
        elif not status.connected:
            since = status.t_s if status.t_s is not None else self.clock_s
            last = known.last_heard_s if known is not None else None
            status = ScannerStatus(status.device_id, False, None, since, last, "", status.t_s)
        if status.device_id not in self.scanners and len(self.scanners) >= MAX_SCANNERS:
            offline = [d for d, s in self.scanners.items() if not s.connected]
            if not offline:
                self.scanners_refused += 1
                return
            del self.scanners[min(offline, key=lambda d: self.scanners[d].since_s or 0.0)]
        self.scanners[status.device_id] = status
        self.version += 1

    def expire(self) -> None:
        """Drop devices not seen for :data:`STALE_AFTER_S` on the observation clock."""
        gone = [d for d, s in self.shoppers.items() if self.clock_s - s.last_t_s > STALE_AFTER_S]
        for d in gone:
            del self.shoppers[d]
        if gone:
            self.version += 1

    def zone_occupancy(self) -> dict[str, int]:
        counts = dict.fromkeys(self.zones, 0)
        for s in self.shoppers.values():
            if s.zone is not None:
                counts[s.zone] = counts.get(s.zone, 0) + 1
        return counts

    def snapshot(self) -> dict[str, Any]:
        """The JSON-ready view the page renders: handles stand for devices (see :func:`handle`)."""
        # Staff read top down: customers with something to act on, then other named
        # customers, then anonymous shoppers; each group by time of entry.
        shoppers = sorted(
            self.shoppers.values(),
            key=lambda s: (s.name is None, not s.alerts, s.entered_t_s or 0),
        )
        return {
            "clock_s": round(self.clock_s, 3),
            "version": self.version,
            "in_store": sum(1 for s in self.shoppers.values() if s.in_store),
            "shoppers": [_shopper_view(s, self.key) for s in shoppers],
            "zones": self.zone_occupancy(),
            "welcome_log": [
                _welcome_view(r, self.shoppers.get(r.device_id), self.key)
                for r in sorted(self.welcome_log, key=lambda r: -r.t_s)
            ],
            "welcomes_sent": self.welcomes_sent,
            "welcomes_suppressed": self.welcomes_suppressed,
            "events_seen": self.events_seen,
            "scanners": sorted(
                (_scanner_view(s, self.key) for s in self.scanners.values()),
                key=lambda v: str(v["label"]),
            ),
        }

    def heatmap(self) -> dict[str, Any]:
        nx, ny = self.heat_shape
        return {"cell_m": HEATMAP_CELL_M, "nx": nx, "ny": ny, "counts": list(self.heat)}


def _shopper_view(s: Shopper, key: bytes) -> dict[str, Any]:
    return {
        "id": handle(s.device_id, key),
        "label": s.name or pseudonym(s.device_id, key),
        "named": s.name is not None,
        "x": None if s.x_m is None else round(s.x_m, 2),
        "y": None if s.y_m is None else round(s.y_m, 2),
        "zone": s.zone,
        "in_store": s.in_store,
        "dwelling": s.dwelling,
        "entered_s": s.entered_t_s,
        "card": staff_card(s.card) if s.card is not None else None,
        "alerts": list(s.alerts),
    }


def _scanner_view(s: ScannerStatus, key: bytes) -> dict[str, Any]:
    """A scanner as staff see it: "scanning", "lost" (adapter gone) or "offline" (the
    scanner's process is gone), since when; labelled like its device's dot."""
    state = (s.adapter or "scanning") if s.connected else "offline"
    return {
        "id": handle(s.device_id, key),
        "label": "Scanner " + handle(s.device_id, key)[:LABEL_HEX],
        "state": state,
        "since": None if s.since_s is None else round(s.since_s, 3),
        "last_heard": None if s.last_heard_s is None else round(s.last_heard_s, 3),
        "problem": s.problem,
    }


def _welcome_view(r: WelcomeRecord, s: Shopper | None, key: bytes) -> dict[str, Any]:
    named = s is not None and s.name is not None
    return {
        "t_s": round(r.t_s, 3),
        "who": s.name if named and s is not None else pseudonym(r.device_id, key),
        "outcome": r.outcome,
        "reason": r.reason,
        "template": r.template,
    }
