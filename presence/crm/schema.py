"""CRM tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Times are epoch seconds (``*_s``, float): the observation clock for anything decided
from presence events, the wall clock only where a column says ``wall``. Every table
that refers to a person carries ``customer_id`` or ``device_id`` so erasure can find
it (see :mod:`presence.crm.erase`).
"""

from __future__ import annotations

import sqlalchemy as sa

from presence.crm.dbclock import db_epoch_now

__all__ = [
    "PURPOSES",
    "LANGUAGES",
    "LOYALTY_TIERS",
    "CHANNELS",
    "ORDER_STATUSES",
    "OUTBOX_STATUSES",
    "DECISION_OUTCOMES",
    "PERSONAL_COLUMNS",
]


metadata = sa.MetaData()

#: Purposes a customer can consent to, one ledger row per change.
PURPOSES = ("analytics", "personalization", "marketing")
LANGUAGES = ("nl", "en")
LOYALTY_TIERS = ("basic", "silver", "gold", "platinum")
CHANNELS = ("web", "app", "store")
ORDER_STATUSES = ("placed", "ready", "collected", "cancelled")
OUTBOX_STATUSES = ("pending", "sent", "cancelled")
DECISION_OUTCOMES = ("send", "suppress", "control")

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("given_name", sa.String(100), nullable=False),
    sa.Column("family_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(40), nullable=True),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("loyalty_tier", sa.String(16), nullable=False),
    sa.Column("birthday", sa.Date, nullable=True),
    sa.Column("created_s", sa.Double, nullable=False),
    sa.CheckConstraint("language IN ('nl', 'en')", name="ck_customers_language"),
)

customer_segments = sa.Table(
    "customer_segments",
    metadata,
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), primary_key=True),
    sa.Column("segment", sa.String(64), primary_key=True),
)

#: Pseudonymous device ids linked to a customer. Rotation: the old row gets
#: ``unlinked_s`` and a new row links the new id; both stay until erasure.
devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(128), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("linked_s", sa.Double, nullable=False),
    sa.Column("unlinked_s", sa.Double, nullable=True),
    sa.Column("source", sa.String(32), nullable=False),
)

#: Devices carried by staff: never greeted, never shown as customers.
staff_devices = sa.Table(
    "staff_devices",
    metadata,
    sa.Column("device_id", sa.String(128), primary_key=True),
    sa.Column("label", sa.String(100), nullable=False),
)

#: Append-only: a change of mind is a new row. UPDATE is refused by a trigger, and so is
#: DELETE except of the rows of a customer being erased (see migrations 2 and 4).
#: Two times: ``at_s``, from when the change applies, on the observation clock (set by the
#: application, so simulated and replayed days decide as they did), and ``recorded_s``,
#: when the database wrote the row, on the database's own clock: filled by the DEFAULT,
#: a client-supplied value off that clock is refused, and so is an ``at_s`` in that
#: clock's future (migration 5). ``NULL`` only for rows written before migration 5.
consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("at_s", sa.Double, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("text_version", sa.String(32), nullable=False),
    sa.Column("recorded_s", sa.Double, nullable=True, server_default=db_epoch_now()),
    sa.CheckConstraint(
        "purpose IN ('analytics', 'personalization', 'marketing')", name="ck_consent_purpose"
    ),
    sa.Index("ix_consent_customer_purpose_at", "customer_id", "purpose", "at_s"),
)

purchases = sa.Table(
    "purchases",
    metadata,
    sa.Column("purchase_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("store", sa.String(64), nullable=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("at_s", sa.Double, nullable=False),
    sa.CheckConstraint("channel IN ('web', 'app', 'store')", name="ck_purchases_channel"),
)

#: Click & collect orders.
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pickup_store", sa.String(64), nullable=False),
    sa.Column("pickup_point", sa.String(64), nullable=False),
    sa.Column("placed_s", sa.Double, nullable=False),
    sa.Column("ready_s", sa.Double, nullable=True),
    sa.Column("item_count", sa.Integer, nullable=False),
)

#: Store visits as the welcome service saw them (one per store.enter event).
visits = sa.Table(
    "visits",
    metadata,
    sa.Column("visit_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("entered_s", sa.Double, nullable=False),
    sa.Column("exited_s", sa.Double, nullable=True),
    sa.Index("ix_visits_device_store_entered", "device_id", "store", "entered_s"),
)

#: Every welcome decision with its reason; one per (event, trigger) so a
#: redelivered event is recognised and not decided twice. A ``send`` names its outbox
#: ``message_id``; when the outbox finishes that message, ``final_outcome`` says what was
#: finally done (``sent`` or ``cancelled``) and ``final_reason`` why, so the log never
#: claims a message that was not delivered (migration 3).
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(128), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), nullable=True, index=True),
    sa.Column("visit_id", sa.String(64), nullable=True),
    sa.Column("decided_s", sa.Double, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("template", sa.String(64), nullable=True),
    sa.Column("recorded_wall_s", sa.Double, nullable=False),
    sa.Column("message_id", sa.String(64), nullable=True, index=True),
    sa.Column("final_outcome", sa.String(16), nullable=True),
    sa.Column("final_reason", sa.String(64), nullable=True),
    sa.Column("final_wall_s", sa.Double, nullable=True),
    sa.UniqueConstraint("event_id", "trigger", name="uq_decisions_event_trigger"),
)

#: Messages to send. The unique key (customer, visit, kind) is what makes the effect
#: exactly-once: redeliveries, restarts and a second instance all hit it. A sender
#: claims a pending row (``claimed_wall_s``) before publishing it, so two instances
#: never publish the same row at once; a claim older than a timeout is a dead sender's.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("visit_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("event_time_s", sa.Double, nullable=False),
    sa.Column("decided_s", sa.Double, nullable=False),
    sa.Column("created_wall_s", sa.Double, nullable=False),
    sa.Column("claimed_wall_s", sa.Double, nullable=True),
    sa.Column("sent_wall_s", sa.Double, nullable=True),
    sa.UniqueConstraint("customer_id", "visit_id", "kind", name="uq_outbox_idempotency"),
    sa.Index("ix_outbox_status", "status"),
)

#: The customer being erased, inside the erasing transaction only: the consent ledger's
#: DELETE trigger lets rows go only for the customer named here (migration 4), so the
#: ledger loses rows to an erasure and to nothing else. The row is removed before commit.
erasure_in_progress = sa.Table(
    "erasure_in_progress",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
)

#: Record that an erasure happened, without saying whom it concerned.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("erasure_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("erased_wall_s", sa.Double, nullable=False),
    sa.Column("rows_removed", sa.Integer, nullable=False),
)

#: Tables whose rows can name a person, with the columns that do; erasure and its
#: test walk this list, so a new table must be added here.
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "customer_segments": ("customer_id",),
    "devices": ("customer_id", "device_id"),
    "consent_ledger": ("customer_id",),
    "purchases": ("customer_id",),
    "orders": ("customer_id",),
    "visits": ("device_id",),
    "decisions": ("customer_id", "device_id"),
    "outbox": ("customer_id", "device_id"),
    "erasure_in_progress": ("customer_id",),
}
