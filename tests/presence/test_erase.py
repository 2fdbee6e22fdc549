"""Erasure: no row referencing the customer is left, in any table or the archive."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from positioning.events import STORE_ENTER, STORE_EXIT, PresenceEvent
from presence.crm import erase, seed
from presence.crm.errors import UnknownCustomerError
from presence.crm.schema import PERSONAL_COLUMNS, devices, erasures, metadata
from presence.crm.store import CrmStore
from presence.services.archive import ArchiveWriter
from presence.transport.payloads import PositionMessage
from presence.welcome.decider import WelcomeDecider
from presence.welcome.policy import PolicyParams

STORE = "demo-fashion"
AS_OF = seed.DEFAULT_AS_OF_S
T0 = AS_OF + 3600  # 11:00 in Amsterdam, an hour after the seeded history ends


def test_every_personal_table_is_erased() -> None:
    assert set(erase.DELETE_ORDER) == set(PERSONAL_COLUMNS)
    for name, table in metadata.tables.items():
        if name == "staff_devices":  # the store's own devices, never a customer's
            continue
        named = {"customer_id", "device_id"} & set(table.c.keys())
        assert named <= set(PERSONAL_COLUMNS.get(name, ())), f"{name} is not in PERSONAL_COLUMNS"


def _archive(root: Path, device_ids: list[str]) -> None:
    writer = ArchiveWriter(root)
    for k, device in enumerate(device_ids):
        t = T0 + 60 * k
        writer.add_event(PresenceEvent(STORE_ENTER, STORE, device, t, t + 1, 15.0, 0.5))
        writer.add_event(
            PresenceEvent(STORE_EXIT, STORE, device, t + 600, t + 601, 15.0, 0.5, None, 600.0)
        )
        writer.add_position(PositionMessage(STORE, device, t + 5, 10.0, 5.0, "denim", 1.2))
    writer.flush()


def _archive_ids(root: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(root.rglob("*.parquet")):
        ids += pq.read_table(path).column("device_id").to_pylist()
    return ids


def test_forget_removes_the_customer_everywhere(crm_url: str, tmp_path: Path) -> None:
    device_ids = [f"dev{i:03d}" for i in range(40)]
    data = seed.generate(
        seed.SeedConfig(
            customers=60, seed=3, as_of_s=AS_OF, store=STORE, device_ids=tuple(device_ids)
        )
    )
    with CrmStore(crm_url) as crm:
        seed.write(crm, data)
        decider = WelcomeDecider(crm, PolicyParams(control_share=0.0))
        for k, device in enumerate(device_ids):
            decider.handle(
                PresenceEvent(STORE_ENTER, STORE, device, T0 + 60 * k, T0 + 60 * k + 1, 15.0, 0.5)
            )
        with crm.engine.connect() as conn:
            rotated = conn.execute(
                sa.select(devices).where(devices.c.unlinked_s.is_not(None))
            ).first()
        assert rotated is not None, "the seed should rotate some ids"
        victim = rotated.customer_id
        with crm.engine.connect() as conn:
            theirs = {
                r.device_id
                for r in conn.execute(
                    sa.select(devices.c.device_id).where(devices.c.customer_id == victim)
                )
            }
        archive = tmp_path / "archive"
        _archive(archive, device_ids + sorted(theirs))  # the rotated-away id was seen too
        schemas = {p: pq.read_schema(p) for p in archive.rglob("*.parquet")}
        before_rows = crm.row_counts()
        before_ids = _archive_ids(archive)

        assert crm.rows_referencing(victim, theirs)["customers"] == 1
        report = erase.forget(crm, victim, archive_dirs=[archive])

        assert crm.rows_referencing(victim, theirs) == {}
        assert not set(_archive_ids(archive)) & theirs
        assert report.device_ids == tuple(sorted(theirs))
        after_rows = crm.row_counts()
        for table, n in report.rows_by_table.items():
            assert before_rows[table] - after_rows[table] == n
        assert (
            report.rows_by_table["customers"] == 1 and report.rows_by_table["consent_ledger"] >= 3
        )
        assert report.archive_rows == len(before_ids) - len(_archive_ids(archive)) > 0
        assert after_rows["erasures"] == 1
        with crm.engine.connect() as conn:
            assert victim not in str(conn.execute(sa.select(erasures)).all())
        # Other customers and their archived rows stay; file schemas are unchanged.
        assert after_rows["customers"] == 59
        assert set(_archive_ids(archive)) == set(device_ids) - theirs
        assert {p: pq.read_schema(p) for p in archive.rglob("*.parquet")} == schemas
        with pytest.raises(UnknownCustomerError):
            erase.forget(crm, victim)


def test_archive_erasure_covers_locate_outputs(tmp_path: Path) -> None:
    out = tmp_path / "locate"
    out.mkdir()
    (out / "positions.csv").write_text("t,device_id,x,y\n1.0,007,1,2\n2.0,abc,3,4\n3.0,007,5,6\n")
    events = [
        PresenceEvent(STORE_ENTER, STORE, device, T0, T0 + 1, 1.0, 1.0).to_cloudevent()
        for device in ("007", "abc")
    ]
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    removed = erase.erase_archive(out, {"007"})
    assert removed == {str(out / "positions.csv"): 2, str(out / "events.jsonl"): 1}
    assert (out / "positions.csv").read_text() == "t,device_id,x,y\n2.0,abc,3,4\n"
    lines = (out / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["subject"] for line in lines] == ["abc"]
    assert erase.erase_archive(out, {"007"}) == {}
