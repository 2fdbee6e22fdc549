"""Engines and write transactions for the CRM's two databases.

SQLite write transactions start with ``BEGIN IMMEDIATE``: the writer lock is taken
before the first read, so two services deciding at once are serialised (the job
``SELECT ... FOR UPDATE`` does on PostgreSQL) instead of failing on lock upgrade.
Reads use a plain deferred ``BEGIN`` and never block each other (WAL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from presence.crm.errors import CrmUrlError

__all__ = ["create_crm_engine", "SQLITE_BUSY_TIMEOUT_S", "write_transaction"]

#: Execution option marking a connection whose transactions write.
_WRITE_OPTION = "instore_crm_write"
#: Seconds a SQLite writer waits for another one before failing; services hold
#: transactions for milliseconds, so this is only reached by a stuck process.
SQLITE_BUSY_TIMEOUT_S = 30.0


def create_crm_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the settings the CRM relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise CrmUrlError(url, "not a SQLAlchemy database URL") from e
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
            return engine
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as e:
        raise CrmUrlError(url, f"no driver for it ({e})") from e


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, emit BEGIN (SQLAlchemy docs, "pysqlite
        # serializable isolation / savepoints").
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a crashed process (what the outbox relies on); only an OS
        # crash or power loss may drop the last commits (sqlite.org/pragma.html#pragma_synchronous).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: committed on normal exit, rolled back on error."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn
