"""Versioned schema migrations: a ``schema_version`` table and ordered functions.

Each migration runs once, in order, inside one transaction that also records its
version, so a crash leaves either the old or the new schema. Two processes opening
a fresh database at once are serialised (PostgreSQL advisory lock; SQLite's
``BEGIN IMMEDIATE`` from :mod:`presence.crm.db`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from presence.crm import schema
from presence.crm.db import write_transaction
from presence.crm.dbclock import LEDGER_CLOCK_TOLERANCE_S, db_epoch_now_sql

__all__ = [
    "MIGRATIONS",
    "LATEST_VERSION",
    "current_version",
    "migrate",
]


schema_version = sa.Table(
    "schema_version",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_wall_s", sa.Double, nullable=False),
)

#: Arbitrary constant key for ``pg_advisory_xact_lock`` (any 64-bit int unique to us).
_PG_MIGRATION_LOCK_KEY = 7_215_004_311


def _v1_tables(conn: sa.Connection) -> None:
    schema.metadata.create_all(conn)


_SQLITE_LEDGER_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS consent_ledger_append_only
BEFORE UPDATE ON consent_ledger
BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only'); END
"""
_PG_LEDGER_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'consent_ledger is append-only'; END
$$ LANGUAGE plpgsql
"""
_PG_LEDGER_TRIGGER = """
CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE ON consent_ledger
FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only()
"""


def _v2_ledger_append_only(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_LEDGER_FUNCTION)
        conn.exec_driver_sql(_PG_LEDGER_TRIGGER)
    else:
        conn.exec_driver_sql(_SQLITE_LEDGER_TRIGGER)


#: Columns migration 3 adds to ``decisions`` (a database made at version 1 by an older
#: release lacks them; one made now has them from ``create_all``).
_V3_DECISION_COLUMNS = (
    ("message_id", "VARCHAR(64)"),
    ("final_outcome", "VARCHAR(16)"),
    ("final_reason", "VARCHAR(64)"),
    ("final_wall_s", "DOUBLE PRECISION"),
)


def _v3_decisions_record_the_end(conn: sa.Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("decisions")}
    for name, kind in _V3_DECISION_COLUMNS:
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE decisions ADD COLUMN {name} {kind}")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_decisions_message_id ON decisions (message_id)"
    )


_SQLITE_LEDGER_DELETE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS consent_ledger_no_delete
BEFORE DELETE ON consent_ledger
WHEN NOT EXISTS (SELECT 1 FROM erasure_in_progress e WHERE e.customer_id = OLD.customer_id)
BEGIN SELECT RAISE(ABORT, 'consent_ledger rows are deleted only by erasing the customer'); END
"""
_PG_LEDGER_DELETE_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_ledger_no_delete() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM erasure_in_progress e WHERE e.customer_id = OLD.customer_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'consent_ledger rows are deleted only by erasing the customer';
END
$$ LANGUAGE plpgsql
"""
_PG_LEDGER_DELETE_TRIGGER = """
CREATE TRIGGER consent_ledger_no_delete BEFORE DELETE ON consent_ledger
FOR EACH ROW EXECUTE FUNCTION consent_ledger_no_delete()
"""


def _v4_ledger_refuses_delete(conn: sa.Connection) -> None:
    schema.erasure_in_progress.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_LEDGER_DELETE_FUNCTION)
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS consent_ledger_no_delete ON consent_ledger")
        conn.exec_driver_sql(_PG_LEDGER_DELETE_TRIGGER)
    else:
        conn.exec_driver_sql(_SQLITE_LEDGER_DELETE_TRIGGER)


#: Why an INSERT is refused (SQL string literals: a quote is doubled).
_RECORDED_MESSAGE = "consent_ledger.recorded_s is the database''s own time"
_FUTURE_MESSAGE = "consent_ledger.at_s lies in the future of the database''s clock"


def _sqlite_ledger_clock_triggers() -> tuple[str, str]:
    now, tol = db_epoch_now_sql("sqlite"), LEDGER_CLOCK_TOLERANCE_S
    recorded = f"""
CREATE TRIGGER IF NOT EXISTS consent_ledger_database_time
BEFORE INSERT ON consent_ledger
WHEN NEW.recorded_s IS NULL OR abs(NEW.recorded_s - {now}) > {tol}
BEGIN SELECT RAISE(ABORT, '{_RECORDED_MESSAGE}'); END
"""
    future = f"""
CREATE TRIGGER IF NOT EXISTS consent_ledger_not_from_the_future
BEFORE INSERT ON consent_ledger
WHEN NEW.at_s > {now} + {tol}
BEGIN SELECT RAISE(ABORT, '{_FUTURE_MESSAGE}'); END
"""
    return recorded, future


def _pg_ledger_clock_function() -> str:
    now = db_epoch_now_sql("postgresql")
    return f"""
CREATE OR REPLACE FUNCTION consent_ledger_database_time() RETURNS trigger AS $$
DECLARE db_now DOUBLE PRECISION := {now};
BEGIN
  IF NEW.recorded_s IS NULL OR abs(NEW.recorded_s - db_now) > {LEDGER_CLOCK_TOLERANCE_S} THEN
    RAISE EXCEPTION '{_RECORDED_MESSAGE}';
  END IF;
  IF NEW.at_s > db_now + {LEDGER_CLOCK_TOLERANCE_S} THEN
    RAISE EXCEPTION '{_FUTURE_MESSAGE}';
  END IF;
  NEW.recorded_s := db_now;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


_PG_LEDGER_CLOCK_TRIGGER = """
CREATE TRIGGER consent_ledger_database_time BEFORE INSERT ON consent_ledger
FOR EACH ROW EXECUTE FUNCTION consent_ledger_database_time()
"""


def _v5_ledger_database_time(conn: sa.Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("consent_ledger")}
    if conn.dialect.name == "postgresql":
        if "recorded_s" not in have:
            # Old rows keep NULL: their true recording time is unknown, and the
            # migration's time would be a made-up one.
            conn.exec_driver_sql(
                "ALTER TABLE consent_ledger ADD COLUMN recorded_s DOUBLE PRECISION"
            )
            conn.exec_driver_sql(
                "ALTER TABLE consent_ledger ALTER COLUMN recorded_s "
                f"SET DEFAULT {db_epoch_now_sql('postgresql')}"
            )
        conn.exec_driver_sql(_pg_ledger_clock_function())
        conn.exec_driver_sql(
            "DROP TRIGGER IF EXISTS consent_ledger_database_time ON consent_ledger"
        )
        conn.exec_driver_sql(_PG_LEDGER_CLOCK_TRIGGER)
        return
    if "recorded_s" not in have:
        _sqlite_rebuild_ledger(conn)
    for trigger in _sqlite_ledger_clock_triggers():
        conn.exec_driver_sql(trigger)


def _sqlite_rebuild_ledger(conn: sa.Connection) -> None:
    """SQLite adds no column with a non-constant DEFAULT (sqlite.org/lang_altertable.html),
    so the ledger is copied into a table of the new shape; old rows get ``NULL``."""
    kept = ", ".join(c.name for c in schema.consent_ledger.columns if c.name != "recorded_s")
    conn.exec_driver_sql("ALTER TABLE consent_ledger RENAME TO consent_ledger_before_v5")
    for index in schema.consent_ledger.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    schema.consent_ledger.create(conn)
    conn.exec_driver_sql(
        f"INSERT INTO consent_ledger ({kept}, recorded_s) "
        f"SELECT {kept}, NULL FROM consent_ledger_before_v5"
    )
    # SQLite drops a table's triggers before its rows (sqlite.org/lang_droptable.html),
    # so this removes no ledger row through the DELETE trigger; then they are put back.
    conn.exec_driver_sql("DROP TABLE consent_ledger_before_v5")
    conn.exec_driver_sql(_SQLITE_LEDGER_TRIGGER)
    conn.exec_driver_sql(_SQLITE_LEDGER_DELETE_TRIGGER)


#: (version, description, function), in order. Append only; never edit a released one.
MIGRATIONS: tuple[tuple[int, str, Callable[[sa.Connection], None]], ...] = (
    (
        1,
        "customers, devices, consent ledger, purchases, orders, visits, decisions, outbox",
        _v1_tables,
    ),
    (2, "consent ledger refuses UPDATE", _v2_ledger_append_only),
    (3, "decisions record what was finally done with their message", _v3_decisions_record_the_end),
    (4, "consent ledger refuses DELETE but for an erasure", _v4_ledger_refuses_delete),
    (
        5,
        "consent ledger dates entries by the database's clock, none from the future",
        _v5_ledger_database_time,
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(engine: sa.Engine) -> list[int]:
    """Bring the database to :data:`LATEST_VERSION`; returns the versions applied now."""
    applied: list[int] = []
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
        schema_version.create(conn, checkfirst=True)
        have = current_version(conn)
        for version, description, step in MIGRATIONS:
            if version <= have:
                continue
            step(conn)
            conn.execute(
                schema_version.insert().values(
                    version=version, description=description, applied_wall_s=time.time()
                )
            )
            applied.append(version)
    return applied
