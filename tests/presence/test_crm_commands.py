"""``instore crm seed | show | forget`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from presence.cli import main
from presence.crm.schema import devices, purchases, staff_devices
from presence.crm.store import CrmStore

START_S = 1_767_603_600.0


def fake_simdir(root: Path) -> Path:
    """The columns `instore simulate` writes to visits.parquet and meta.json."""
    root.mkdir()
    n = 50
    pq.write_table(
        pa.table(
            {
                "device_id": [f"{i:08x}" for i in range(n)] + ["0000staf"],
                "kind": ["shopper"] * 40 + ["passerby"] * 10 + ["staff"],
                "persona": ["browser"] * (n + 1),
                "enter_t": [START_S + i for i in range(n + 1)],
                "exit_t": [START_S + 600 + i for i in range(n + 1)],
                "visible": [i % 2 == 0 for i in range(n)] + [True],
            }
        ),
        root / "visits.parquet",
    )
    checkout = {"device_id": ["00000000", "00000002", "00000001"], "zone": ["checkout"] * 3}
    checkout |= {"enter_t": [START_S + 100.0] * 3, "exit_t": [START_S + 160.0] * 3}
    pq.write_table(pa.table(checkout), root / "zone_visits.parquet")
    meta = {"start_s": START_S, "store": {"name": "demo-fashion"}}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def test_seed_from_a_simulation_then_show_and_forget(
    crm_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simdir = fake_simdir(tmp_path / "sim")
    argv = ["crm", "seed", "--customers", "100", "--seed", "4", "--crm", crm_url]
    assert main([*argv, "--devices-from", str(simdir), "--link-share", "1.0"]) == 0
    with CrmStore(crm_url) as crm, crm.engine.connect() as conn:
        linked = {
            r.device_id
            for r in conn.execute(sa.select(devices).where(devices.c.unlinked_s.is_(None)))
        }
        staff = {r.device_id for r in conn.execute(sa.select(staff_devices))}
        owner = conn.execute(
            sa.select(devices.c.customer_id).where(devices.c.device_id == "00000000")
        ).scalar_one()
    assert linked == {f"{i:08x}" for i in range(40) if i % 2 == 0}  # visible shoppers only
    with CrmStore(crm_url) as crm, crm.engine.connect() as conn:
        bought = conn.execute(sa.select(purchases).where(purchases.c.at_s >= START_S)).all()
    # Linked shoppers who went through the checkout bought something in that visit.
    assert sorted((r.channel, r.at_s) for r in bought) == [("store", START_S + 160.0)] * 2
    assert staff == {"0000staf"}
    assert main(argv) == 2  # a second seed without --replace is refused, in one line
    assert "--replace" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["crm", "show", "00000000", "--crm", crm_url]) == 0
    shown = capsys.readouterr().out
    assert owner in shown and "consent now:" in shown
    assert main(["crm", "forget", owner, "--crm", crm_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["customer_id"] == owner and report["rows_by_table"]["customers"] == 1
    assert main(["crm", "forget", owner, "--crm", crm_url]) == 2
    assert "is not in the CRM" in capsys.readouterr().err


def test_seed_from_patterns_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"sqlite:///{tmp_path / f'{n}.sqlite'}" for n in ("a", "b")]
    for url in urls:
        args = ["crm", "seed", "--customers", "30", "--seed", "9", "--crm", url]
        args += ["--devices", "phone-{i:03d}", "--device-count", "10", "--as-of", "2026-03-01"]
        args += ["--staff-devices", "staff-{i}", "--staff-count", "2"]
        assert main(args) == 0
    dumps = []
    for url in urls:
        with CrmStore(url) as crm, crm.engine.connect() as conn:
            dumps.append([conn.execute(sa.select(t)).all() for t in (devices, staff_devices)])
    assert dumps[0] == dumps[1] and len(dumps[0][0]) >= 10
    bad = [
        "crm",
        "seed",
        "--customers",
        "3",
        "--crm",
        urls[0],
        "--devices",
        "same",
        "--device-count",
        "2",
    ]
    assert main(bad) == 2
    assert "put {i} in it" in capsys.readouterr().err


def test_welcome_refuses_a_bad_policy_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["welcome", "--store", "demo", "--crm", f"sqlite:///{tmp_path / 'c.sqlite'}"]
    assert main([*base, "--quiet-hours", "25-3"]) == 2
    assert "quiet_start_hour" in capsys.readouterr().err
    assert main([*base, "--timezone", "Mars/Olympus"]) == 2
    assert "welcome policy" in capsys.readouterr().err
