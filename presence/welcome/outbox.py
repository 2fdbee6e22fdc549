"""Outbox rows: messages decided and committed, waiting to be published or already sent.

The message id is a UUIDv5 of the idempotency key (customer, visit, kind), so a
message published twice after a crash carries the same id and the app shows it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from positioning.events import format_time
from presence.crm import consent
from presence.crm.db import write_transaction
from presence.crm.schema import decisions, outbox

__all__ = [
    "MESSAGE_ID_NAMESPACE",
    "MESSAGE_SCHEMA",
    "KIND_WELCOME",
    "CHANNEL_APP",
    "RESEND_GRACE_S",
    "CLAIM_TIMEOUT_S",
    "REASON_WITHDRAWN",
    "message_id",
    "OutboxMessage",
    "pending",
    "deliver",
]


#: Namespace of message ids (a fixed random UUID; never change it).
MESSAGE_ID_NAMESPACE = uuid.UUID("0b7f3a52-91d4-4c1e-8e0a-5d2b6c9f1a47")
#: Version 2: ``title`` and ``body`` carry a ``{name}`` placeholder the app fills in,
#: never the customer's name (version 1 carried the first name: issue 18, finding 7).
MESSAGE_SCHEMA = "instore.message/2"
KIND_WELCOME = "welcome"
CHANNEL_APP = "app"
#: A row its decider has not claimed after this long is sent by whoever resends (the
#: decider claims within milliseconds unless it died between commit and publish).
RESEND_GRACE_S = 2.0
#: A claim this old belongs to a sender that died between claim and publish.
CLAIM_TIMEOUT_S = 30.0
#: Why a committed message was not delivered: marketing consent was withdrawn after the
#: decision (which was right at its event time) and before delivery.
REASON_WITHDRAWN = "consent_withdrawn_before_delivery"


def message_id(customer_id: str, visit_id: str, kind: str) -> str:
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{customer_id}|{visit_id}|{kind}"))


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    customer_id: str
    visit_id: str
    kind: str
    store: str
    device_id: str
    template: str
    language: str
    title: str
    body: str
    event_time_s: float
    decided_s: float

    def payload(self) -> dict[str, Any]:
        """What the device receives on its message topic: nothing that names its owner.

        No customer id, no name, no order number; the topic already says which device.
        """
        return {
            "schema": MESSAGE_SCHEMA,
            "message_id": self.message_id,
            "kind": self.kind,
            "store": self.store,
            "template": self.template,
            "language": self.language,
            "title": self.title,
            "body": self.body,
            "event_time": format_time(self.event_time_s),
        }


def _from_row(r: Any) -> OutboxMessage:
    return OutboxMessage(
        message_id=r.message_id,
        customer_id=r.customer_id,
        visit_id=r.visit_id,
        kind=r.kind,
        store=r.store,
        device_id=r.device_id,
        template=r.template,
        language=r.language,
        title=r.title,
        body=r.body,
        event_time_s=r.event_time_s,
        decided_s=r.decided_s,
    )


def pending(
    conn: sa.Connection, store: str | None = None, *, now_wall_s: float | None = None
) -> list[OutboxMessage]:
    """Committed, not sent and not being sent, oldest decision first.

    With ``now_wall_s``, only rows left alone long enough: unclaimed for
    :data:`RESEND_GRACE_S` (their decider is about to send them) or claimed longer
    than :data:`CLAIM_TIMEOUT_S` ago (their sender died).
    """
    c = outbox.c
    query = sa.select(outbox).where(c.status == "pending")
    if store is not None:
        query = query.where(c.store == store)
    if now_wall_s is not None:
        query = query.where(
            sa.or_(
                sa.and_(c.claimed_wall_s.is_(None), c.created_wall_s < now_wall_s - RESEND_GRACE_S),
                c.claimed_wall_s < now_wall_s - CLAIM_TIMEOUT_S,
            )
        )
    return [_from_row(r) for r in conn.execute(query.order_by(c.decided_s))]


def deliver(
    engine: sa.Engine,
    message: OutboxMessage,
    publish: Callable[[OutboxMessage], None],
    wall_clock: Callable[[], float],
) -> bool:
    """Claim one pending message, publish it and mark it sent; returns whether it was published.

    Consent is checked once more: a withdrawal recorded after the decision (while the
    message waited, e.g. during a crash) cancels it instead.
    """
    with write_transaction(engine) as conn:
        if not _claim(conn, message.message_id, wall_clock()):
            return False
        if not consent.granted_at(conn, message.customer_id, "marketing", None):
            _finish(conn, message.message_id, "cancelled", wall_clock(), REASON_WITHDRAWN)
            return False
    publish(message)
    with write_transaction(engine) as conn:
        _finish(conn, message.message_id, "sent", wall_clock(), "delivered")
    return True


def _claim(conn: sa.Connection, mid: str, now_wall_s: float) -> bool:
    c = outbox.c
    claimed = conn.execute(
        outbox.update()
        .where(
            c.message_id == mid,
            c.status == "pending",
            sa.or_(c.claimed_wall_s.is_(None), c.claimed_wall_s < now_wall_s - CLAIM_TIMEOUT_S),
        )
        .values(claimed_wall_s=now_wall_s)
        .returning(c.message_id)
    ).first()
    return claimed is not None


def _finish(conn: sa.Connection, mid: str, status: str, wall_s: float, reason: str) -> None:
    """Close a pending message and record the end on the decision that made it."""
    done = conn.execute(
        outbox.update()
        .where(outbox.c.message_id == mid, outbox.c.status == "pending")
        .values(status=status, sent_wall_s=wall_s if status == "sent" else None)
    )
    if done.rowcount:
        conn.execute(
            decisions.update()
            .where(decisions.c.message_id == mid)
            .values(final_outcome=status, final_reason=reason, final_wall_s=wall_s)
        )
