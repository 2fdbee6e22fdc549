"""The CRM lookup service: staff see a consenting customer's profile as they walk in.

Subscribes to ``store.enter`` events of one store. For a device linked to a customer
with *personalization* consent at the event's time, it publishes a staff alert with
the profile card on the staff topic (ACL-restricted: the only topic carrying personal
data). For everyone else, including staff devices, it publishes nothing. A
redelivered event gives no second alert (alerts carry the event's id too).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from positioning.events import STORE_ENTER, PresenceEvent, format_time
from presence.crm.store import CrmStore
from presence.transport.bus import Bus, DeadLetters, subscribe_decoded
from presence.transport.payloads import decode_event
from presence.transport.topics import Topics

__all__ = [
    "ALERT_SCHEMA",
    "alerts_for",
    "BIRTHDAY_DAYS",
    "REPEAT_ALERT_S",
    "SEEN_EVENTS",
    "SERVICE_NAME",
    "staff_alert",
    "StaffLookupService",
    "VIP_TIERS",
]

log = logging.getLogger(__name__)

SERVICE_NAME = "crm-lookup"
ALERT_SCHEMA = "instore.staff-alert/1"
#: Event ids remembered to ignore redeliveries (a day of a busy store's entries).
SEEN_EVENTS = 50_000
#: Tiers staff should notice.
VIP_TIERS = ("gold", "platinum")
#: A birthday within this many days before the visit is mentioned.
BIRTHDAY_DAYS = 7
#: No second alert about the same customer within this long (observation clock): an
#: entry detected twice (a shopper lingering at the door) is one arrival for staff.
REPEAT_ALERT_S = 15 * 60.0


def alerts_for(card: Mapping[str, Any], t_s: float) -> list[str]:
    """Short lines telling staff what to do, most urgent first."""
    out = [
        f"click & collect order {o['order_id']} ready at the {o['pickup_point']}"
        for o in card.get("orders_ready", [])
    ]
    if card.get("loyalty_tier") in VIP_TIERS:
        out.append(f"{card['loyalty_tier']} member")
    if _birthday_recent(card.get("birthday"), datetime.fromtimestamp(t_s, tz=UTC).date()):
        out.append("birthday this week")
    return out


def _birthday_recent(month_day: str | None, today: date) -> bool:
    if not month_day:
        return False
    month, day = (int(x) for x in month_day.split("-"))
    for year in (today.year - 1, today.year):
        try:
            birthday = date(year, month, day)
        except ValueError:  # 29 February in a common year
            birthday = date(year, month, 28)
        if 0 <= (today - birthday).days < BIRTHDAY_DAYS:
            return True
    return False


def staff_alert(event: PresenceEvent, card: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": event.id,
        "store": event.store,
        "device": event.device_id,
        "t": round(event.time_s, 3),
        "time": format_time(event.time_s),
        "event_type": event.type,
        "zone": event.zone,
        "card": dict(card),
        "alerts": alerts_for(card, event.time_s),
    }


class StaffLookupService:
    """One store's CRM lookup; ``start()`` subscribes."""

    def __init__(
        self,
        bus: Bus,
        crm: CrmStore,
        store: str,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.crm = crm
        self.topics = Topics(store)
        self.wall_clock = wall_clock
        self.stats: Counter[str] = Counter()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_alert_s: dict[str, float] = {}  # customer -> event time of the last alert
        self._deadletters = DeadLetters(
            bus,
            self.topics.deadletter,
            SERVICE_NAME,
            clock=wall_clock,
            counts=self.stats,
            prefix="deadletter:",
        )

    def start(self) -> None:
        subscribe_decoded(
            self.bus,
            self.topics.event(STORE_ENTER),
            lambda _topic, payload: decode_event(payload),
            self.on_event,
            self._deadletters,
        )

    def on_event(self, _topic: str, event: PresenceEvent) -> None:
        """One store entry: an alert for staff if the customer consents to personalization."""
        if event.id in self._seen or event.type != STORE_ENTER:
            self.stats["ignored"] += 1
            return
        self._remember(event.id)
        self.stats["events"] += 1
        if self.crm.is_staff_device(event.device_id):
            self.stats["staff_device"] += 1
            return
        card = self.crm.profile_card(event.device_id, event.time_s)
        if card is None:
            self.stats["no_card"] += 1
            return
        last = self._last_alert_s.get(card["customer_id"])
        if last is not None and abs(event.time_s - last) < REPEAT_ALERT_S:
            self.stats["repeat"] += 1
            return
        self._last_alert_s[card["customer_id"]] = event.time_s
        self.bus.publish_json(self.topics.staff_alerts, staff_alert(event, card), qos=1)
        self.stats["alerts"] += 1

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
