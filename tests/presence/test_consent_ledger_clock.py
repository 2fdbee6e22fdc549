"""The consent ledger's time is the database's own (issue 18, finding 8), on SQLite and
PostgreSQL: a backdated or future-dated ``recorded_s`` is refused, an omitted one is the
database's clock, and ``instore crm show`` dates rows by it, never by a writer's time."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from presence.cli import main
from presence.crm import consent
from presence.crm.dbclock import LEDGER_CLOCK_TOLERANCE_S
from presence.crm.errors import CrmError
from presence.crm.migrations import LATEST_VERSION, MIGRATIONS, current_version, migrate
from presence.crm.schema import consent_ledger
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer

#: The finding's forged row: granted "in 1970", from a tool that is not the app.
FORGED = {
    "customer_id": "C1",
    "purpose": "marketing",
    "granted": True,
    "at_s": 0.0,
    "source": "forged",
    "text_version": "2026-01",
}


@pytest.mark.parametrize("recorded_s", [0.0, -1e9, "future", None])
def test_a_client_chosen_recording_time_is_refused(crm_url: str, recorded_s: object) -> None:
    value = time.time() + 3600.0 if recorded_s == "future" else recorded_s
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1")
        with pytest.raises(sa.exc.DBAPIError, match="own time"), crm.begin() as conn:
            conn.execute(consent_ledger.insert().values(**FORGED, recorded_s=value))
        assert not crm.consent_at("C1", "marketing", None)
        with crm.engine.connect() as conn:
            assert consent.history(conn, "C1") == []


def test_an_entry_from_the_future_is_refused(crm_url: str) -> None:
    # A grant dated 1e12 used to beat every later withdrawal in "the latest state" (what
    # the outbox checks before delivering), since the state is ordered by at_s.
    from presence.crm import seed

    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", grants={"marketing": 100.0})
        crm.record_consent("C1", "marketing", False, time.time() - 10.0)
        with pytest.raises(sa.exc.DBAPIError, match="future"), crm.begin() as conn:
            conn.execute(consent_ledger.insert().values(**{**FORGED, "at_s": 1e12}))
        assert not crm.consent_at("C1", "marketing", None)
        future = seed.SeedConfig(customers=50, seed=1, as_of_s=time.time() + 3650 * 86_400.0)
        with pytest.raises(CrmError, match="from the future"):
            seed.write(crm, seed.generate(future), replace=True)


def test_the_database_dates_every_row(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1")
        before = time.time()
        with crm.begin() as conn:
            conn.execute(consent_ledger.insert().values(**FORGED))  # the finding, verbatim
            consent.record(conn, "C1", "analytics", True, 5.0)
            close = time.time() + LEDGER_CLOCK_TOLERANCE_S / 2  # within tolerance: let through
            conn.execute(consent_ledger.insert().values(**FORGED, recorded_s=close))
        after = time.time()
        with crm.engine.connect() as conn:
            rows = consent.history(conn, "C1")
        assert len(rows) == 3
        for row in rows:
            assert row.recorded_s is not None
            assert before - 1.0 <= row.recorded_s <= after + LEDGER_CLOCK_TOLERANCE_S
            assert row.declared_late_s > 50 * 365 * 86_400  # "applies from 1970": flagged
        if crm.engine.dialect.name == "postgresql":  # the trigger writes its own clock
            assert all(r.recorded_s <= after + 0.5 for r in rows)  # type: ignore[operator]


def test_crm_show_never_dates_a_row_by_the_writers_time(
    crm_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 8: `crm show` printed "1970-01-01 ... marketing granted via forged".
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1")
        with crm.begin() as conn:
            conn.execute(consent_ledger.insert().values(**FORGED))
    assert main(["crm", "show", "C1", "--crm", crm_url]) == 0
    out = capsys.readouterr().out
    forged = [line for line in out.splitlines() if "via forged" in line]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(forged) == 1
    assert forged[0].strip().startswith(today), forged
    assert "applies from 1970-01-01T00:00:00+00:00: declared" in forged[0]


def _old_shape(conn: sa.Connection) -> None:
    """The tables as release 4 made them: the ledger without ``recorded_s``."""
    old = sa.MetaData()
    for table in consent_ledger.metadata.sorted_tables:
        if table.name != "consent_ledger":
            table.to_metadata(old)
    sa.Table(
        "consent_ledger",
        old,
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.ForeignKey("customers.customer_id"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("at_s", sa.Double, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Index("ix_consent_customer_purpose_at", "customer_id", "purpose", "at_s"),
    )
    old.create_all(conn)


def test_migration_5_upgrades_an_old_ledger_and_runs_once(crm_url: str) -> None:
    from presence.crm.db import create_crm_engine, write_transaction
    from presence.crm.migrations import schema_version

    engine = create_crm_engine(crm_url)
    try:
        with write_transaction(engine) as conn:
            _old_shape(conn)
            schema_version.create(conn)
            for version, description, step in MIGRATIONS[:4]:
                if version > 1:  # version 1 is the tables above, in their old shape
                    step(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=version, description=description, applied_wall_s=0.0
                    )
                )
            conn.exec_driver_sql(
                "INSERT INTO customers (customer_id, given_name, family_name, email, language, "
                "loyalty_tier, created_s) VALUES ('C1', 'G', 'F', 'c1@example.com', 'en', 'basic', 0)"
            )
            conn.execute(consent_ledger.insert().values(**{**FORGED, "source": "app", "at_s": 7.0}))
        assert migrate(engine) == [5]
        assert migrate(engine) == []  # idempotent
        with engine.connect() as conn:
            assert current_version(conn) == LATEST_VERSION
            (old,) = consent.history(conn, "C1")
        assert old.at_s == 7.0 and old.recorded_s is None  # unknown, not made up
        with CrmStore(crm_url) as crm:
            with pytest.raises(sa.exc.DBAPIError, match="own time"), crm.begin() as conn:
                conn.execute(consent_ledger.insert().values(**FORGED, recorded_s=0.0))
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), crm.begin() as conn:
                conn.execute(consent_ledger.update().values(granted=False))
            with pytest.raises(sa.exc.DBAPIError, match="only by erasing"), crm.begin() as conn:
                conn.execute(consent_ledger.delete())
            crm.record_consent("C1", "marketing", False, 8.0)
            assert not crm.consent_at("C1", "marketing", 9.0)
            assert crm.consent_at("C1", "marketing", 7.5)
    finally:
        engine.dispose()
