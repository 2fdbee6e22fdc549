"""CrmStore: the CRM database behind one SQLAlchemy URL.

A SQLite file by default (``sqlite:///instore-crm.sqlite``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). Opening a store migrates it to the latest
schema. Writes go through :meth:`CrmStore.begin` (see :mod:`presence.crm.db`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from presence.crm import consent, profile
from presence.crm.db import create_crm_engine, write_transaction
from presence.crm.errors import CrmUrlError
from presence.crm.migrations import migrate
from presence.crm.schema import PERSONAL_COLUMNS, devices, metadata, staff_devices

__all__ = ["CrmStore", "customer_for_device", "DEFAULT_URL", "devices_of", "is_staff_device"]

DEFAULT_URL = "sqlite:///instore-crm.sqlite"


class CrmStore:
    """The CRM: customers, devices, consent, purchases, orders, outbox, decisions."""

    def __init__(self, url: str = DEFAULT_URL, *, migrate_schema: bool = True) -> None:
        self.url = url
        self.engine = create_crm_engine(url)
        if migrate_schema:
            try:
                migrate(self.engine)
            except OperationalError as e:
                self.engine.dispose()
                raise CrmUrlError(url, f"cannot open the database: {e.orig}") from e

    def __enter__(self) -> CrmStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A transaction: committed on normal exit, rolled back on an exception."""
        with write_transaction(self.engine) as conn:
            yield conn

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    # -- lookups ---------------------------------------------------------------------

    def customer_for_device(self, device_id: str, at_s: float | None = None) -> str | None:
        with self.engine.connect() as conn:
            return customer_for_device(conn, device_id, at_s)

    def is_staff_device(self, device_id: str) -> bool:
        with self.engine.connect() as conn:
            return is_staff_device(conn, device_id)

    def consent_at(self, customer_id: str, purpose: str, at_s: float | None = None) -> bool:
        with self.engine.connect() as conn:
            return consent.granted_at(conn, customer_id, purpose, at_s)

    def record_consent(
        self, customer_id: str, purpose: str, granted: bool, at_s: float, *, source: str = "app"
    ) -> None:
        with self.begin() as conn:
            consent.record(conn, customer_id, purpose, granted, at_s, source=source)

    def profile_card(self, device_id: str, at_s: float | None = None) -> dict[str, Any] | None:
        """The customer's card for staff, or ``None`` without personalization consent.

        ``at_s`` is the moment of use on the observation clock (``None``: now, i.e.
        the latest consent and device-link state).
        """
        with self.engine.connect() as conn:
            customer_id = customer_for_device(conn, device_id, at_s)
            if customer_id is None:
                return None
            if not consent.granted_at(conn, customer_id, "personalization", at_s):
                return None
            return profile.card(conn, customer_id, at_s)

    def row_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for name, table in metadata.tables.items()
            }

    def rows_referencing(self, customer_id: str, device_ids: set[str]) -> dict[str, int]:
        """Rows in every personal table naming the customer or one of the devices."""
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for name, columns in PERSONAL_COLUMNS.items():
                table = metadata.tables[name]
                conds = []
                for col in columns:
                    value = {customer_id} if col == "customer_id" else device_ids
                    if value:
                        conds.append(table.c[col].in_(sorted(value)))
                if not conds:
                    continue
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(sa.or_(*conds))
                ).scalar_one()
                if count:
                    found[name] = int(count)
        return found


def customer_for_device(conn: sa.Connection, device_id: str, at_s: float | None) -> str | None:
    """The customer a device was linked to at ``at_s`` (``None``: currently linked)."""
    c = devices.c
    query = sa.select(c.customer_id).where(c.device_id == device_id)
    if at_s is None:
        query = query.where(c.unlinked_s.is_(None))
    else:
        query = query.where(
            c.linked_s <= float(at_s), sa.or_(c.unlinked_s.is_(None), c.unlinked_s > float(at_s))
        )
    return conn.execute(query).scalar()


def is_staff_device(conn: sa.Connection, device_id: str) -> bool:
    query = sa.select(staff_devices.c.device_id).where(staff_devices.c.device_id == device_id)
    return conn.execute(query).first() is not None


def devices_of(conn: sa.Connection, customer_id: str) -> set[str]:
    """Every device id ever linked to the customer (rotated ones included)."""
    rows = conn.execute(sa.select(devices.c.device_id).where(devices.c.customer_id == customer_id))
    return {r.device_id for r in rows}
