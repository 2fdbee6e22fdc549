"""Test helpers for the CRM, shipped with the package: a throw-away database per test.

SQLite: a file in the test's temporary directory. PostgreSQL (when
``INSTORE_TEST_POSTGRES_URL`` is set, as CI does): a fresh schema per test, named in
the URL's ``search_path`` so every connection (also of a subprocess given the URL)
lands in it; dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from presence.crm import consent
from presence.crm.schema import customers, devices
from presence.crm.store import CrmStore

__all__ = ["POSTGRES_ENV", "add_customer", "crm_database", "postgres_schema", "postgres_url"]

POSTGRES_ENV = "INSTORE_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped on exit."""
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()


@contextmanager
def crm_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A URL of an empty CRM database of ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'crm.sqlite'}"
        return
    base = postgres_url()
    if base is None:
        raise LookupError(f"{POSTGRES_ENV} is not set")
    with postgres_schema(base) as url:
        yield url


def add_customer(
    crm: CrmStore,
    customer_id: str,
    device_ids: tuple[str, ...] = (),
    *,
    language: str = "en",
    linked_s: float = 0.0,
    grants: dict[str, float] | None = None,
) -> None:
    """A minimal customer with linked devices and consent grants (purpose -> time)."""
    with crm.begin() as conn:
        conn.execute(
            customers.insert().values(
                customer_id=customer_id,
                given_name=f"Given{customer_id}",
                family_name=f"Family{customer_id}",
                email=f"{customer_id.lower()}@example.com",
                language=language,
                loyalty_tier="basic",
                birthday=None,
                created_s=linked_s,
            )
        )
        for device_id in device_ids:
            conn.execute(
                devices.insert().values(
                    device_id=device_id, customer_id=customer_id, linked_s=linked_s, source="test"
                )
            )
        for purpose, at_s in (grants or {}).items():
            consent.record(conn, customer_id, purpose, True, at_s, source="test")
