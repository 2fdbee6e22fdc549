"""The consent ledger: append-only, state at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presence.crm import consent
from presence.crm.erase import erase_everyone
from presence.crm.errors import CrmError
from presence.crm.schema import consent_ledger
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer


def test_state_at_a_time(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1")
        with crm.begin() as conn:
            consent.record(conn, "C1", "marketing", True, 100.0)
            consent.record(conn, "C1", "marketing", False, 200.0)
            consent.record(conn, "C1", "marketing", True, 300.0)
            consent.record(conn, "C1", "analytics", True, 300.0)
            consent.record(conn, "C1", "analytics", False, 300.0)  # same time: the later row wins
        expect = {50.0: False, 100.0: True, 150.0: True, 200.0: False, 250.0: False, 300.0: True}
        for t, granted in expect.items():
            assert crm.consent_at("C1", "marketing", t) is granted, t
        assert crm.consent_at("C1", "analytics", 300.0) is False
        assert crm.consent_at("C1", "personalization", 1e12) is False  # never asked: not granted
        with crm.engine.connect() as conn:
            assert consent.state_at(conn, "C1", 150.0) == {
                "analytics": False,
                "personalization": False,
                "marketing": True,
            }
            assert [e.granted for e in consent.history(conn, "C1")] == [
                True,
                False,
                True,
                True,
                False,
            ]


def test_ledger_refuses_updates_and_unknown_purposes(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", grants={"marketing": 10.0})
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), crm.begin() as conn:
            conn.execute(consent_ledger.update().values(granted=False))
        assert crm.consent_at("C1", "marketing", 20.0)
        with pytest.raises(CrmError, match="purpose"):
            crm.record_consent("C1", "location", True, 10.0)


def test_ledger_refuses_delete_but_for_an_erasure(crm_url: str) -> None:
    # Issue 18, finding 8: `DELETE FROM consent_ledger WHERE ...` used to succeed.
    from presence.crm.erase import forget

    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", grants={"marketing": 10.0})
        add_customer(crm, "C2", grants={"marketing": 10.0})
        for delete in (
            consent_ledger.delete().where(consent_ledger.c.customer_id == "C1"),
            consent_ledger.delete(),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="only by erasing"), crm.begin() as conn:
                conn.execute(delete)
        assert crm.consent_at("C1", "marketing", 20.0) and crm.consent_at("C2", "marketing", 20.0)
        report = forget(crm, "C1")
        assert report.rows_by_table["consent_ledger"] == 1
        with crm.engine.connect() as conn:
            left = conn.execute(sa.select(consent_ledger.c.customer_id)).scalars().all()
        assert left == ["C2"]  # the erasure took C1's rows only, and left no way open
        with pytest.raises(sa.exc.DBAPIError, match="only by erasing"), crm.begin() as conn:
            conn.execute(consent_ledger.delete())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=0, max_size=12),
    probes=st.lists(st.integers(-1, 21), min_size=1, max_size=8),
)
def test_ledger_matches_a_plain_replay(
    crm_url: str, changes: list[tuple[int, bool]], probes: list[int]
) -> None:
    with CrmStore(crm_url) as crm:
        with crm.begin() as conn:
            erase_everyone(conn)
        add_customer(crm, "C1")
        with crm.begin() as conn:
            for t, granted in changes:
                consent.record(conn, "C1", "marketing", granted, float(t))
        for probe in probes:
            # Oracle: the last change at or before the probe, in insertion order among ties.
            state = False
            for t, granted in sorted(changes, key=lambda c: c[0]):
                if t <= probe:
                    state = granted
            assert crm.consent_at("C1", "marketing", float(probe)) is state
