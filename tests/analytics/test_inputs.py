from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analytics_synth import FASHION, REPO, T0, positions, scripted_events, write_locate_dir

from analytics.errors import RunInputError
from analytics.eventlog import read_events
from analytics.inputs import load_run
from analytics.intervals import read_events_jsonl
from positioning.layout import Layout


def _track() -> pd.DataFrame:
    t = T0 + np.arange(600.0)
    inside = positions(t, ["a"] * 600, np.full(600, 5.0), np.full(600, 5.0))
    street = positions(
        T0 + np.arange(30.0), ["007"] * 30, np.linspace(5, 25, 30), np.full(30, -2.0)
    )
    return positions(
        *(pd.concat([inside, street])[c].to_numpy() for c in ("t_s", "device_id", "x_m", "y_m"))
    )


def test_locate_directory_gives_intervals_from_events(tmp_path: Path, fashion: Layout) -> None:
    events = scripted_events(fashion.name)
    d = write_locate_dir(
        tmp_path / "loc",
        _track(),
        events + events[:2],
        extra_lines=("{not json", '{"specversion": "1.0"}'),
    )
    run = load_run(d, FASHION)
    assert run.kind == "locate" and run.store == "demo-fashion"
    assert run.positions["t_s"].is_monotonic_increasing and len(run.positions) == 630
    assert set(run.positions["device_id"].cat.categories) == {"a", "007"}  # "007" stays a string
    assert run.visits[["start_s", "duration_s"]].to_numpy().tolist() == [[T0, 600.0]]
    assert list(run.zone_visits["zone"]) == ["entrance", "womens", "shoes"]
    assert run.zone_visits["start_s"].tolist() == pytest.approx([T0, T0 + 35, T0 + 210])
    assert run.dwells[["zone", "duration_s"]].to_numpy().tolist() == [["womens", 120.0]]
    assert run.roles.to_dict() == {"007": "passerby", "a": "visitor"}
    assert any("2 event lines" in n and "line 13" in n for n in run.notes)
    assert any("2 repeated events" in n for n in run.notes)


def test_simulation_directory(tmp_path: Path, fashion: Layout) -> None:
    d = tmp_path / "sim"
    d.mkdir()
    track = _track().rename(columns={"t_s": "t", "x_m": "x", "y_m": "y"})
    track["device_id"] = track["device_id"].astype(str)
    track.to_parquet(d / "truth.parquet")
    pd.DataFrame(
        {
            "device_id": ["a", "007", "s1"],
            "kind": ["shopper", "passerby", "staff"],
            "enter_t": [T0, np.nan, T0],
            "exit_t": [T0 + 599, np.nan, np.nan],
        }
    ).to_parquet(d / "visits.parquet")
    pd.DataFrame(
        {"device_id": ["a"], "zone": ["womens"], "start_t": [T0 + 10], "end_t": [T0 + 70]}
    ).to_parquet(d / "dwells.parquet")
    (d / "meta.json").write_text(
        json.dumps(
            {
                "store": {"file": str(FASHION), "name": "demo-fashion"},
                "start_s": T0,
                "duration_s": 3600.0,
            }
        )
    )
    run = load_run(d)
    assert run.kind == "simulation" and run.layout.name == fashion.name
    assert run.visits["device_id"].astype(str).tolist() == ["a", "s1"]
    # the staff visit is open at the end of the window: cut there
    assert run.visits["duration_s"].tolist() == pytest.approx([599.0, 3600.0])
    assert run.dwells["duration_s"].tolist() == [60.0]
    assert run.zone_visits["zone"].tolist() == ["womens"]  # derived from the track
    assert run.roles.to_dict() == {"007": "passerby", "a": "visitor", "s1": "staff"}


def test_errors_name_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(RunInputError, match="is not a run"):
        load_run(tmp_path, FASHION)
    d = tmp_path / "loc"
    d.mkdir()
    (d / "positions.csv").write_text("t,device,x\n1,a,2\n")
    (d / "events.jsonl").write_text("")
    with pytest.raises(RunInputError, match=r"positions.csv: y_m: missing column"):
        load_run(d, FASHION)
    with pytest.raises(RunInputError, match="--store"):
        load_run(d)


def test_fast_and_line_by_line_event_readers_agree(tmp_path: Path, fashion: Layout) -> None:
    events = scripted_events(fashion.name)
    d = write_locate_dir(tmp_path / "loc", _track(), events + events[3:5])
    fast = read_events(str(d / "events.jsonl"))
    slow = read_events_jsonl(str(d / "events.jsonl"))
    for name in ("visits", "zone_visits", "dwells"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a["device_id"].astype(str).tolist() == b["device_id"].astype(str).tolist()
        assert a["zone"].tolist() == b["zone"].tolist()
        assert np.allclose(
            a[["start_s", "end_s"]].to_numpy(), b[["start_s", "end_s"]].to_numpy(), atol=1e-6
        )
    assert (
        (fast.entered, fast.events, fast.duplicates)
        == (slow.entered, slow.events, slow.duplicates)
        == (frozenset({"a"}), 12, 2)
    )


def test_live_archive_of_the_bus(tmp_path: Path, fashion: Layout) -> None:
    from presence.services.archive import ArchiveWriter
    from presence.transport.payloads import PositionMessage

    writer = ArchiveWriter(tmp_path / "arch")
    for e in scripted_events(fashion.name) + scripted_events(fashion.name)[:3]:
        writer.add_event(e)
    for i in range(60):
        writer.add_position(PositionMessage(fashion.name, "a", T0 + i, 5.0, 5.0, "womens", 1.0))
    writer.add_position(PositionMessage("other-store", "z", T0, 1.0, 1.0, "", 1.0))
    writer.flush()
    writer.add_event(scripted_events(fashion.name)[0])  # redelivered after a flush: a second part
    writer.flush()
    run = load_run(tmp_path / "arch", FASHION)
    assert run.kind == "archive" and run.store == fashion.name
    assert len(run.positions) == 60 and set(run.positions["device_id"].cat.categories) == {"a"}
    assert run.visits["duration_s"].tolist() == [600.0]
    assert list(run.zone_visits["zone"]) == ["entrance", "womens", "shoes"]
    assert run.dwells["duration_s"].tolist() == [120.0]
    assert run.roles.to_dict() == {"a": "visitor"}
    with pytest.raises(RunInputError, match="store=other-store"):
        load_run(tmp_path / "arch", REPO / "examples" / "stores" / "showroom.toml")
