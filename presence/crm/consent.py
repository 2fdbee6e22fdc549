"""The consent ledger: append-only, asked "was purpose P granted at time t?".

A change of mind is a new row; the state at ``t`` is the latest row at or before
``t`` (ties broken by insertion order), and no row means *not granted*. So a
withdrawal applies to every decision made at or after its time, and replaying old
events gives the answer that held then.

Each row has two times: ``at_s``, from when it applies on the observation clock (the
caller's, so a simulated or replayed day decides as it did), and ``recorded_s``, when
the database wrote it, on the database's own clock: the writer cannot choose it
(:mod:`presence.crm.dbclock`). A row whose ``at_s`` lies before its ``recorded_s`` was
declared after the fact (:attr:`ConsentEntry.declared_late_s`); ``instore crm show``
dates each row by ``recorded_s`` and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from presence.crm.dbclock import LEDGER_CLOCK_TOLERANCE_S
from presence.crm.errors import CrmError
from presence.crm.schema import PURPOSES, consent_ledger

__all__ = [
    "DEFAULT_TEXT_VERSION",
    "ConsentEntry",
    "record",
    "record_many",
    "granted_at",
    "state_at",
    "history",
]


#: Version of the consent text shown to customers, recorded with every change.
DEFAULT_TEXT_VERSION = "2026-01"


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    customer_id: str
    purpose: str
    granted: bool
    at_s: float
    source: str
    text_version: str
    #: When the database wrote the row (its own clock); ``None`` before migration 5.
    recorded_s: float | None = None

    @property
    def declared_late_s(self) -> float:
        """How long before it was recorded the row says it applied (0 when not)."""
        if self.recorded_s is None:
            return 0.0
        late = self.recorded_s - self.at_s
        return late if late > LEDGER_CLOCK_TOLERANCE_S else 0.0


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise CrmError(f"consent purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")


def record(
    conn: sa.Connection,
    customer_id: str,
    purpose: str,
    granted: bool,
    at_s: float,
    *,
    source: str = "app",
    text_version: str = DEFAULT_TEXT_VERSION,
) -> None:
    """Append one grant or withdrawal; the database dates it (``recorded_s``)."""
    _check_purpose(purpose)
    conn.execute(
        consent_ledger.insert().values(
            customer_id=customer_id,
            purpose=purpose,
            granted=granted,
            at_s=float(at_s),
            source=source,
            text_version=text_version,
        )
    )


def record_many(conn: sa.Connection, entries: Iterable[ConsentEntry]) -> int:
    """Append many rows at once; their ``recorded_s`` is the database's, never the entry's."""
    rows = []
    for e in entries:
        _check_purpose(e.purpose)
        rows.append(
            {
                "customer_id": e.customer_id,
                "purpose": e.purpose,
                "granted": e.granted,
                "at_s": e.at_s,
                "source": e.source,
                "text_version": e.text_version,
            }
        )
    if rows:
        conn.execute(consent_ledger.insert(), rows)
    return len(rows)


def granted_at(conn: sa.Connection, customer_id: str, purpose: str, at_s: float | None) -> bool:
    """Whether ``purpose`` was granted at ``at_s`` (``None``: the latest state)."""
    _check_purpose(purpose)
    c = consent_ledger.c
    query = sa.select(c.granted).where(c.customer_id == customer_id, c.purpose == purpose)
    if at_s is not None:
        query = query.where(c.at_s <= float(at_s))
    query = query.order_by(c.at_s.desc(), c.entry_id.desc()).limit(1)
    return bool(conn.execute(query).scalar())


def state_at(conn: sa.Connection, customer_id: str, at_s: float | None) -> dict[str, bool]:
    """Every purpose's state at ``at_s``."""
    return {p: granted_at(conn, customer_id, p, at_s) for p in PURPOSES}


def history(conn: sa.Connection, customer_id: str) -> list[ConsentEntry]:
    c = consent_ledger.c
    rows = conn.execute(
        sa.select(
            c.customer_id, c.purpose, c.granted, c.at_s, c.source, c.text_version, c.recorded_s
        )
        .where(c.customer_id == customer_id)
        .order_by(c.at_s, c.entry_id)
    )
    return [
        ConsentEntry(
            r.customer_id,
            r.purpose,
            bool(r.granted),
            r.at_s,
            r.source,
            r.text_version,
            r.recorded_s,
        )
        for r in rows
    ]
