"""Feeds the dashboard state from the bus and the CRM's decision log.

Bus messages are decoded with the bus's own payload helpers and turned into the
state's records; a message that cannot be used is counted by reason and skipped
(the dashboard is a viewer: dead-lettering is the producing services' job). Welcome
decisions, with their suppression reasons, are read from the CRM database, where
the welcome service records every one of them; a ``send`` is shown once the outbox has
finished it, as sent or as not sent with the reason (issue 18, finding 9: a send
cancelled by a consent withdrawal must not show as sent).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from beacons.validity import id_problem
from presence.crm.schema import decisions
from presence.crm.store import create_crm_engine
from presence.dashboard.hub import DashboardHub
from presence.dashboard.state import (
    DashboardState,
    PositionUpdate,
    ScannerStatus,
    StaffAlert,
    WelcomeRecord,
)
from presence.errors import PresenceError
from presence.transport.bus import Bus
from presence.transport.payloads import (
    PayloadError,
    decode_event,
    decode_position,
    decode_status,
)
from presence.transport.topics import SCANNER_SERVICE_PREFIX, Topics, parse_topic

__all__ = [
    "DECISION_POLL_S",
    "BusFeed",
    "MAX_NAME_CHARS",
    "MAX_ALERTS",
    "MAX_ALERT_CHARS",
    "scanner_status_record",
    "staff_alert_record",
    "decision_record",
    "DecisionPoller",
]


log = logging.getLogger(__name__)

#: How often the decision log is read; 1 s keeps the welcome log as fresh as the map
#: looks to a person, at one indexed query per second.
DECISION_POLL_S = 1.0
#: Unfinished sends kept to read again: the outbox finishes a send within a second when
#: the bus is up; beyond this many (a welcome service down for long) the oldest are not shown.
MAX_UNSETTLED = 256

Handler = Callable[[str, bytes], None]


class BusFeed:
    """Bus handlers that update a hub; ``rejected`` counts unusable messages by reason."""

    def __init__(self, hub: DashboardHub, store: str | None = None) -> None:
        self.hub = hub
        self.store = store
        self.rejected: Counter[str] = Counter()

    def _guard(self, apply: Callable[[bytes], Callable[[DashboardState], None]]) -> Handler:
        def handler(topic: str, payload: bytes) -> None:
            try:
                update = apply(payload)
            except PresenceError as e:
                self.rejected[getattr(e, "reason", type(e).__name__)] += 1
                log.debug("dashboard skipped a message on %s: %s", topic, e)
                return
            self.hub.update(update)

        return handler

    def subscribe(self, bus: Bus, topics: Topics) -> None:
        """Feed the hub from ``bus``: the store's events, positions (QoS 0) and staff alerts."""
        bus.subscribe(topics.events_filter, self.on_event())
        bus.subscribe(topics.positions_filter, self.on_position(), qos=0)
        bus.subscribe(topics.staff_alerts, self.on_staff_alert())
        bus.subscribe(topics.status_filter, self.on_status())

    def on_event(self) -> Handler:
        def apply(payload: bytes) -> Callable[[DashboardState], None]:
            event = decode_event(payload)
            return lambda st: st.apply_event(event)

        return self._guard(apply)

    def on_staff_alert(self) -> Handler:
        def apply(payload: bytes) -> Callable[[DashboardState], None]:
            alert = staff_alert_record(payload, self.store)
            return lambda st: st.apply_staff_alert(alert)

        return self._guard(apply)

    def on_status(self) -> Handler:
        """Statuses of the store's services; the Bluetooth scanners' ones are shown."""

        def handler(topic: str, payload: bytes) -> None:
            if parse_topic(topic).key.startswith(SCANNER_SERVICE_PREFIX):
                guarded(topic, payload)

        def apply(payload: bytes) -> Callable[[DashboardState], None]:
            status = scanner_status_record(payload)
            return lambda st: st.apply_scanner_status(status)

        guarded = self._guard(apply)
        return handler

    def on_position(self) -> Handler:
        def apply(payload: bytes) -> Callable[[DashboardState], None]:
            p = decode_position(payload)
            pos = PositionUpdate(p.device_id, p.t_s, p.x_m, p.y_m, p.zone)
            return lambda st: st.apply_position(pos)

        return self._guard(apply)


#: Bounds of what one staff alert may put on a tablet: a name, a few short lines.
MAX_NAME_CHARS = 120
MAX_ALERTS = 8
MAX_ALERT_CHARS = 200


def staff_alert_record(payload: bytes, store: str | None = None) -> StaffAlert:
    """A staff alert as the CRM lookup publishes it; the card carries the name.

    Shape and size are checked here; who sent it is not (MQTT does not tell a
    subscriber): only the broker's ACL keeps others off the staff topic, see
    docs/security.md.
    """
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PayloadError("bad_json", str(e)) from None
    card = obj.get("card") if isinstance(obj, dict) else None
    device = obj.get("device") if isinstance(obj, dict) else None
    t_s = obj.get("t") if isinstance(obj, dict) else None
    if (
        not isinstance(card, dict)
        or not isinstance(device, str)
        or not isinstance(t_s, int | float)
    ):
        raise PayloadError("missing_field", "a staff alert needs device, t and card")
    if store is not None and obj.get("store", store) != store:
        raise PayloadError("wrong_store", f"a staff alert for store {obj.get('store')!r}")
    alerts = obj.get("alerts", [])
    lines = tuple(str(a) for a in alerts) if isinstance(alerts, list) else ()
    name = str(card.get("name", ""))
    if (
        len(name) > MAX_NAME_CHARS
        or len(lines) > MAX_ALERTS
        or any(len(a) > MAX_ALERT_CHARS for a in lines)
    ):
        raise PayloadError("too_long", "a staff alert's name or lines exceed the page's bounds")
    return StaffAlert(device_id=device, t_s=float(t_s), name=name, card=card, alerts=lines)


def scanner_status_record(payload: bytes) -> ScannerStatus:
    """A scanner's status message (``presence.services.scanning.StatusReporter``, or the
    bus client's own online/offline) as the dashboard keeps it."""
    obj = decode_status(payload)
    device = str(obj.get("service", "")).removeprefix(SCANNER_SERVICE_PREFIX)
    if not device:
        raise PayloadError("missing_field", "a scanner status needs its service, scan-<device>")
    problem = id_problem(device)
    if problem is not None:
        raise PayloadError("invalid_id", f"scanner {device[:40]!r}: {problem}")
    t = obj.get("t")
    t_s = float(t) if isinstance(t, int | float) else None
    connected = obj["state"] != "offline"
    scanner = obj.get("scanner")
    if not isinstance(scanner, dict):
        return ScannerStatus(device, connected, t_s=t_s)
    adapter, since, last = scanner.get("adapter"), scanner.get("since"), scanner.get("last_heard")
    if adapter not in ("scanning", "lost"):
        raise PayloadError(
            "wrong_type", f"a scanner's adapter is scanning or lost, not {adapter!r}"
        )
    if not isinstance(since, int | float) or not (last is None or isinstance(last, int | float)):
        raise PayloadError("wrong_type", "a scanner status's since and last_heard are times")
    problem = str(scanner.get("problem", ""))[:MAX_ALERT_CHARS]
    return ScannerStatus(device, connected, str(adapter), float(since), last, problem, t_s)


def decision_record(row: sa.Row) -> WelcomeRecord:
    """A decision row as the welcome log shows it: sent, or suppressed with the reason. A
    ``send`` the outbox cancelled (consent withdrawn before delivery) was not sent."""
    outcome = "sent" if row.outcome == "send" else "suppressed"
    reason = "control group" if row.outcome == "control" else row.reason
    if row.outcome == "send" and row.final_outcome not in (None, "sent"):
        outcome, reason = "suppressed", row.final_reason or row.final_outcome
    return WelcomeRecord(
        device_id=row.device_id,
        t_s=row.decided_s,
        outcome=outcome,
        reason=reason,
        template=row.template or "",
        key=f"decision:{row.decision_id}",
    )


class DecisionPoller:
    """Reads new welcome decisions from the CRM database into the hub, in a thread."""

    def __init__(self, hub: DashboardHub, crm_url: str, *, store: str | None = None) -> None:
        self.hub = hub
        self._engine = create_crm_engine(crm_url)
        self._store = store
        self._last_id = 0
        #: Sends the outbox has not finished yet, read again at each poll (oldest first).
        self._unsettled: dict[int, None] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-decisions", daemon=True)

    def poll_once(self) -> int:
        """Read decisions newer than the last seen, and the sends still unfinished at the
        last poll; returns how many were shown. A send waits until the outbox has
        finished it, so the log shows what was done, never what was only planned."""
        c = decisions.c
        fresh = c.decision_id > self._last_id
        if self._unsettled:
            fresh = sa.or_(fresh, c.decision_id.in_(list(self._unsettled)))
        query = sa.select(decisions).where(fresh).order_by(c.decision_id)
        if self._store is not None:
            query = query.where(c.store == self._store)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query.limit(500)))
        if rows:
            self._last_id = max(self._last_id, rows[-1].decision_id)
        records = []
        for r in rows:
            if r.outcome == "send" and r.final_outcome is None:
                self._unsettled[r.decision_id] = None
                continue
            self._unsettled.pop(r.decision_id, None)
            records.append(decision_record(r))
        while len(self._unsettled) > MAX_UNSETTLED:  # a welcome service down for long
            del self._unsettled[next(iter(self._unsettled))]
        if records:

            def apply(st: DashboardState) -> None:
                for r in records:
                    st.apply_welcome(r)

            self.hub.update(apply)
        return len(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except sa.exc.SQLAlchemyError as e:
                log.warning("dashboard cannot read welcome decisions: %s", e)
            self._stop.wait(DECISION_POLL_S)

    def start(self) -> DecisionPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._engine.dispose()
