"""What the CRM knows about a customer at a moment: the staff card and the welcome facts.

Only fields staff need are on the card (no e-mail, phone or birth year). Callers
check consent first; these functions do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from presence.crm.schema import customer_segments, customers, orders, purchases

__all__ = [
    "card",
    "CARD_PURCHASES",
    "CARD_SPEND_WINDOW_S",
    "CustomerFacts",
    "facts",
    "ready_orders",
    "ReadyOrder",
    "recent_categories",
]

#: Purchases listed on a staff card (enough for a conversation, not a history dump).
CARD_PURCHASES = 5
#: Spend shown on the card covers this period (one year, the usual loyalty horizon).
CARD_SPEND_WINDOW_S = 365 * 86_400.0


@dataclass(frozen=True, slots=True)
class ReadyOrder:
    order_id: str
    pickup_store: str
    pickup_point: str
    items: int


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What the welcome policy may use about a customer."""

    customer_id: str
    given_name: str
    language: str
    loyalty_tier: str
    birthday: date | None
    recent_categories: tuple[str, ...]  # most recent first, distinct
    ready_orders: tuple[ReadyOrder, ...]


def _upper(column: sa.ColumnElement[Any], at_s: float | None) -> sa.ColumnElement[bool]:
    return sa.true() if at_s is None else column <= float(at_s)


def ready_orders(conn: sa.Connection, customer_id: str, at_s: float | None) -> list[ReadyOrder]:
    c = orders.c
    rows = conn.execute(
        sa.select(c.order_id, c.pickup_store, c.pickup_point, c.item_count)
        .where(c.customer_id == customer_id, c.status == "ready", _upper(c.ready_s, at_s))
        .order_by(c.ready_s)
    )
    return [ReadyOrder(r.order_id, r.pickup_store, r.pickup_point, int(r.item_count)) for r in rows]


def recent_categories(
    conn: sa.Connection, customer_id: str, at_s: float | None, window_s: float
) -> tuple[str, ...]:
    c = purchases.c
    query = sa.select(c.category, c.at_s).where(c.customer_id == customer_id)
    if at_s is not None:
        query = query.where(c.at_s <= float(at_s), c.at_s > float(at_s) - window_s)
    seen: dict[str, None] = {}
    for r in conn.execute(query.order_by(c.at_s.desc())):
        seen.setdefault(r.category, None)
    return tuple(seen)


def facts(
    conn: sa.Connection, customer_id: str, at_s: float, recent_window_s: float
) -> CustomerFacts | None:
    row = conn.execute(sa.select(customers).where(customers.c.customer_id == customer_id)).first()
    if row is None:
        return None
    return CustomerFacts(
        customer_id=customer_id,
        given_name=row.given_name,
        language=row.language,
        loyalty_tier=row.loyalty_tier,
        birthday=row.birthday,
        recent_categories=recent_categories(conn, customer_id, at_s, recent_window_s),
        ready_orders=tuple(ready_orders(conn, customer_id, at_s)),
    )


def card(conn: sa.Connection, customer_id: str, at_s: float | None) -> dict[str, Any] | None:
    row = conn.execute(sa.select(customers).where(customers.c.customer_id == customer_id)).first()
    if row is None:
        return None
    segs = conn.execute(
        sa.select(customer_segments.c.segment)
        .where(customer_segments.c.customer_id == customer_id)
        .order_by(customer_segments.c.segment)
    )
    p = purchases.c
    recent = conn.execute(
        sa.select(p.channel, p.category, p.amount_cents, p.at_s)
        .where(p.customer_id == customer_id, _upper(p.at_s, at_s))
        .order_by(p.at_s.desc())
        .limit(CARD_PURCHASES)
    ).all()
    spend_query = sa.select(sa.func.coalesce(sa.func.sum(p.amount_cents), 0)).where(
        p.customer_id == customer_id, _upper(p.at_s, at_s)
    )
    if at_s is not None:
        spend_query = spend_query.where(p.at_s > float(at_s) - CARD_SPEND_WINDOW_S)
    return {
        "customer_id": customer_id,
        "name": f"{row.given_name} {row.family_name}",
        "given_name": row.given_name,
        "language": row.language,
        "loyalty_tier": row.loyalty_tier,
        "segments": [s.segment for s in segs],
        "birthday": row.birthday.strftime("%m-%d") if row.birthday else None,
        "member_since": _day(row.created_s),
        "spend_12m_eur": int(conn.execute(spend_query).scalar_one()) / 100,
        "recent_purchases": [
            {
                "channel": r.channel,
                "category": r.category,
                "amount_eur": r.amount_cents / 100,
                "date": _day(r.at_s),
            }
            for r in recent
        ],
        "orders_ready": [
            {
                "order_id": o.order_id,
                "pickup_store": o.pickup_store,
                "pickup_point": o.pickup_point,
                "items": o.items,
            }
            for o in ready_orders(conn, customer_id, at_s)
        ],
    }


def _day(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).date().isoformat()
