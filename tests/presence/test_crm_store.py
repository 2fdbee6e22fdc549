"""The CRM store on SQLite and PostgreSQL: migrations, seed, device links, profile cards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from presence.crm import seed
from presence.crm.errors import CrmError, CrmUrlError
from presence.crm.migrations import LATEST_VERSION, current_version, migrate
from presence.crm.schema import devices, metadata
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer

AS_OF = seed.DEFAULT_AS_OF_S


def test_a_new_database_is_migrated_once(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        with crm.engine.connect() as conn:
            assert current_version(conn) == LATEST_VERSION
        assert migrate(crm.engine) == []
        assert set(crm.row_counts()) == set(metadata.tables)
    with CrmStore(crm_url) as again:  # reopening keeps the data and the version
        assert migrate(again.engine) == []


def test_a_version_2_database_gains_the_decision_end_columns(crm_url: str) -> None:
    from presence.crm.migrations import schema_version

    new = ("message_id", "final_outcome", "final_reason", "final_wall_s")
    with CrmStore(crm_url) as crm:
        with crm.begin() as conn:  # make it look like a database an older release made
            conn.exec_driver_sql("DROP INDEX ix_decisions_message_id")
            for name in new:
                conn.exec_driver_sql(f"ALTER TABLE decisions DROP COLUMN {name}")
            conn.execute(schema_version.delete().where(schema_version.c.version >= 3))
        assert migrate(crm.engine) == list(range(3, LATEST_VERSION + 1))
        with crm.engine.connect() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns("decisions")}
        assert set(new) <= have


def test_seed_is_deterministic_and_plausible() -> None:
    config = seed.SeedConfig(customers=1500, seed=7, device_ids=tuple(f"d{i}" for i in range(500)))
    a, b = seed.generate(config), seed.generate(config)
    assert a.rows == b.rows
    small = [seed.generate(seed.SeedConfig(customers=50, seed=k)).rows for k in (7, 8)]
    assert small[0]["customers"] != small[1]["customers"]
    latest: dict[tuple[str, str], bool] = {}
    for row in sorted(a.rows["consent_ledger"], key=lambda r: r["at_s"]):
        latest[(row["customer_id"], row["purpose"])] = row["granted"]
    share = {
        p: sum(v for (_c, q), v in latest.items() if q == p) / 1500 for p in seed.CONSENT_RATES
    }
    assert share["marketing"] < share["personalization"] < share["analytics"]
    assert 0.2 < share["marketing"] < 0.45
    linked = {r["device_id"] for r in a.rows["devices"] if r["unlinked_s"] is None}
    assert linked == {f"d{i}" for i in range(500)}
    assert {r["channel"] for r in a.rows["purchases"]} == {"web", "app", "store"}
    assert any(r["status"] == "ready" for r in a.rows["orders"])
    assert {r["language"] for r in a.rows["customers"]} == {"nl", "en"}
    assert all(r["at_s"] < AS_OF for r in a.rows["consent_ledger"] + a.rows["purchases"])


def test_seed_writes_and_refuses_to_mix(crm_url: str) -> None:
    data = seed.generate(seed.SeedConfig(customers=200, seed=1, device_ids=("a", "b", "c")))
    with CrmStore(crm_url) as crm:
        written = seed.write(crm, data)
        counts = crm.row_counts()
        assert all(counts[name] == n for name, n in written.items())
        with pytest.raises(CrmError, match="--replace"):
            seed.write(crm, data)
        seed.write(crm, data, replace=True)
        assert crm.row_counts() == counts


def test_profile_card_needs_personalization_consent_at_that_time(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("dev-1",), grants={"personalization": 100.0})
        add_customer(crm, "C2", ("dev-2",), grants={"marketing": 100.0})
        assert crm.profile_card("dev-1", 50.0) is None  # before the grant
        card = crm.profile_card("dev-1", 150.0)
        assert card is not None and card["customer_id"] == "C1" and "email" not in card
        assert crm.profile_card("dev-2", 150.0) is None  # marketing is not personalization
        assert crm.profile_card("nobody", 150.0) is None
        crm.record_consent("C1", "personalization", False, 200.0)
        assert crm.profile_card("dev-1", 250.0) is None
        assert crm.profile_card("dev-1") is None  # latest state
        assert crm.profile_card("dev-1", 150.0) is not None  # the past stays as it was


def test_device_rotation_keeps_the_old_link_in_its_time(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("new-id",), linked_s=1000.0)
        with crm.begin() as conn:
            conn.execute(
                devices.insert().values(
                    device_id="old-id",
                    customer_id="C1",
                    linked_s=0.0,
                    unlinked_s=1000.0,
                    source="app",
                )
            )
        assert crm.customer_for_device("old-id", 500.0) == "C1"
        assert crm.customer_for_device("old-id", 1500.0) is None
        assert crm.customer_for_device("new-id", 500.0) is None
        assert crm.customer_for_device("new-id", 1500.0) == "C1"
        assert crm.customer_for_device("new-id") == "C1"


def test_a_bad_url_is_one_clear_error(tmp_path: object) -> None:
    with pytest.raises(CrmUrlError, match="not a SQLAlchemy database URL"):
        CrmStore("no url at all")
    with pytest.raises(CrmUrlError, match="cannot open"):
        CrmStore("sqlite:////nonexistent-dir/for/sure/crm.sqlite")


def test_row_counts_see_every_table(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("d",), grants={"analytics": 1.0})
        counts = crm.row_counts()
        assert counts["customers"] == 1 and counts["devices"] == 1 and counts["consent_ledger"] == 1
        with crm.engine.connect() as conn:
            assert sa.inspect(conn).has_table("schema_version")
