"""The database side of the welcome service: from a presence event to a committed decision.

One transaction per event: record the visit, gather what the policy may know, decide,
and write the decision and (for a send) the outbox row. The customer's row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are ``BEGIN IMMEDIATE``)
so two instances cannot both pass the cooldown. The outbox's unique key (customer,
visit, kind) is the last guard: a second insert for the same visit does nothing.
Publishing happens after the commit (:mod:`presence.welcome.outbox`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from positioning.events import DWELL_START, STORE_ENTER, STORE_EXIT, PresenceEvent
from presence.crm import consent, profile
from presence.crm.schema import customers, decisions, outbox, visits
from presence.crm.store import CrmStore, customer_for_device, is_staff_device
from presence.welcome import templates
from presence.welcome.outbox import CHANNEL_APP, KIND_WELCOME, OutboxMessage, message_id
from presence.welcome.policy import (
    CONTROL,
    REASON_VISIT_DONE,
    SEND,
    SUPPRESS,
    TRIGGER_DWELL,
    TRIGGER_ENTER,
    Content,
    Decision,
    PolicyParams,
    WelcomeRequest,
    decide,
)

__all__ = ["insert_ignore", "REASON_NO_VISIT", "WelcomeDecider"]

#: A dwell with no open visit of its device (its store.enter was never seen) is not decided.
REASON_NO_VISIT = "no_open_visit"
_TRIGGERS = {STORE_ENTER: TRIGGER_ENTER, DWELL_START: TRIGGER_DWELL}


def insert_ignore(conn: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """INSERT that does nothing on a unique conflict; returns whether a row was written."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT statements here.
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(stmt).first() is not None


class WelcomeDecider:
    """Decides welcomes for one CRM; safe to run in several processes at once."""

    def __init__(
        self,
        crm: CrmStore,
        params: PolicyParams = PolicyParams(),
        *,
        on_dwell: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.crm = crm
        self.params = params
        self.on_dwell = on_dwell
        self.wall_clock = wall_clock
        self.counts: Counter[str] = Counter()  # "outcome:reason" -> decisions made here

    def handle(self, event: PresenceEvent) -> list[OutboxMessage]:
        """Record the event; returns the message committed for sending, if any."""
        trigger = _TRIGGERS.get(event.type)
        if trigger == TRIGGER_DWELL and not self.on_dwell:
            trigger = None
        with self.crm.begin() as conn:
            if event.type == STORE_ENTER:
                _open_visit(conn, event)
            elif event.type == STORE_EXIT:
                _close_visit(conn, event)
            if trigger is None:
                return []
            return self._decide(conn, event, trigger)

    def _decide(
        self, conn: sa.Connection, event: PresenceEvent, trigger: str
    ) -> list[OutboxMessage]:
        customer_id = customer_for_device(conn, event.device_id, event.time_s)
        if customer_id is not None:
            conn.execute(
                sa.select(customers.c.customer_id)
                .where(customers.c.customer_id == customer_id)
                .with_for_update()
            )
        if _already_decided(conn, event.id, trigger):
            self.counts["redelivered"] += 1
            return []
        visit_id = event.id if trigger == TRIGGER_ENTER else _visit_at(conn, event)
        if visit_id is None:
            self._log(conn, event, trigger, customer_id, None, Decision(SUPPRESS, REASON_NO_VISIT))
            return []
        decision = decide(self._request(conn, event, trigger, customer_id, visit_id), self.params)
        sent: list[OutboxMessage] = []
        if decision.outcome == SEND and decision.content is not None and customer_id:
            message = _message(event, customer_id, visit_id, decision.content)
            if self._insert_outbox(conn, message, decision.reason):
                sent.append(message)
            else:
                decision = Decision(SUPPRESS, REASON_VISIT_DONE)
        message_id = sent[0].message_id if sent else None
        self._log(conn, event, trigger, customer_id, visit_id, decision, message_id)
        return sent

    def _request(
        self,
        conn: sa.Connection,
        event: PresenceEvent,
        trigger: str,
        customer_id: str | None,
        visit_id: str,
    ) -> WelcomeRequest:
        """What the policy may know, read inside the deciding transaction."""
        t = event.time_s
        facts = None
        if customer_id is not None:
            facts = profile.facts(conn, customer_id, t, self.params.recent_purchase_window_s)
        return WelcomeRequest(
            t_s=t,
            trigger=trigger,
            store=event.store,
            device_id=event.device_id,
            zone=event.zone,
            is_staff=is_staff_device(conn, event.device_id),
            customer=facts,
            marketing_consent=customer_id is not None
            and consent.granted_at(conn, customer_id, "marketing", t),
            visit_messaged=customer_id is not None
            and _visit_contacted(conn, customer_id, visit_id),
            contacts_s=_contacts(conn, customer_id) if customer_id else (),
        )

    def _insert_outbox(self, conn: sa.Connection, m: OutboxMessage, reason: str) -> bool:
        return insert_ignore(
            conn,
            outbox,
            {
                "message_id": m.message_id,
                "customer_id": m.customer_id,
                "visit_id": m.visit_id,
                "kind": m.kind,
                "store": m.store,
                "device_id": m.device_id,
                "channel": CHANNEL_APP,
                "template": m.template,
                "language": m.language,
                "title": m.title,
                "body": m.body,
                "reason": reason,
                "status": "pending",
                "event_time_s": m.event_time_s,
                "decided_s": m.decided_s,
                "created_wall_s": self.wall_clock(),
            },
        )

    def _log(
        self,
        conn: sa.Connection,
        event: PresenceEvent,
        trigger: str,
        customer_id: str | None,
        visit_id: str | None,
        decision: Decision,
        message_id: str | None = None,
    ) -> None:
        self.counts[f"{decision.outcome}:{decision.reason}"] += 1
        insert_ignore(
            conn,
            decisions,
            {
                "event_id": event.id,
                "trigger": trigger,
                "store": event.store,
                "device_id": event.device_id,
                "customer_id": customer_id,
                "visit_id": visit_id,
                "decided_s": event.time_s,
                "outcome": decision.outcome,
                "reason": decision.reason,
                "template": decision.content.template if decision.content else None,
                "recorded_wall_s": self.wall_clock(),
                "message_id": message_id,
            },
        )


def _message(
    event: PresenceEvent, customer_id: str, visit_id: str, content: Content
) -> OutboxMessage:
    title, body = templates.render(content)
    return OutboxMessage(
        message_id=message_id(customer_id, visit_id, KIND_WELCOME),
        customer_id=customer_id,
        visit_id=visit_id,
        kind=KIND_WELCOME,
        store=event.store,
        device_id=event.device_id,
        template=content.template,
        language=content.language,
        title=title,
        body=body,
        event_time_s=event.time_s,
        decided_s=event.time_s,
    )


def _already_decided(conn: sa.Connection, event_id: str, trigger: str) -> bool:
    c = decisions.c
    query = sa.select(c.decision_id).where(c.event_id == event_id, c.trigger == trigger)
    return conn.execute(query).first() is not None


def _open_visit(conn: sa.Connection, event: PresenceEvent) -> None:
    insert_ignore(
        conn,
        visits,
        {
            "visit_id": event.id,
            "store": event.store,
            "device_id": event.device_id,
            "entered_s": event.time_s,
        },
    )


def _close_visit(conn: sa.Connection, event: PresenceEvent) -> None:
    c = visits.c
    latest = conn.execute(
        sa.select(c.visit_id)
        .where(
            c.device_id == event.device_id,
            c.store == event.store,
            c.entered_s <= event.time_s,
            c.exited_s.is_(None),
        )
        .order_by(c.entered_s.desc())
        .limit(1)
    ).scalar()
    if latest is not None:
        conn.execute(visits.update().where(c.visit_id == latest).values(exited_s=event.time_s))


def _visit_at(conn: sa.Connection, event: PresenceEvent) -> str | None:
    """The visit of the event's device open at the event's time."""
    c = visits.c
    return conn.execute(
        sa.select(c.visit_id)
        .where(
            c.device_id == event.device_id,
            c.store == event.store,
            c.entered_s <= event.time_s,
            sa.or_(c.exited_s.is_(None), c.exited_s >= event.time_s),
        )
        .order_by(c.entered_s.desc())
        .limit(1)
    ).scalar()


def _visit_contacted(conn: sa.Connection, customer_id: str, visit_id: str) -> bool:
    o, d = outbox.c, decisions.c
    sent = sa.select(o.message_id).where(
        o.customer_id == customer_id, o.visit_id == visit_id, o.kind == KIND_WELCOME
    )
    held = sa.select(d.decision_id).where(
        d.customer_id == customer_id, d.visit_id == visit_id, d.outcome == CONTROL
    )
    return conn.execute(sent).first() is not None or conn.execute(held).first() is not None


def _contacts(conn: sa.Connection, customer_id: str) -> tuple[float, ...]:
    """Decision times of the customer's welcomes (not cancelled) and control hold-outs."""
    o, d = outbox.c, decisions.c
    sent = conn.execute(
        sa.select(o.decided_s).where(
            o.customer_id == customer_id, o.kind == KIND_WELCOME, o.status != "cancelled"
        )
    )
    held = conn.execute(
        sa.select(d.decided_s).where(d.customer_id == customer_id, d.outcome == CONTROL)
    )
    return tuple(r.decided_s for r in sent) + tuple(r.decided_s for r in held)
