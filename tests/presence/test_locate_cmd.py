"""``instore locate`` and ``instore evaluate`` end to end through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from positioning.events import PresenceEvent
from positioning.layout import load_layout
from presence.cli import main
from sim.obslog import write_observation_log
from sim.params import SimConfig
from sim.run import simulate

REPO = Path(__file__).resolve().parents[2]
FASHION = REPO / "examples" / "stores" / "fashion.toml"


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "run"
    simulate(FASHION, SimConfig(shoppers=6, duration_s=240.0, start_s=1_763_978_400.0, seed=3), out)
    return out


@pytest.fixture(scope="module")
def bad_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small observation CSV with every kind of bad row appended."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "positioning"))
    from engine_synth import scenario

    path = tmp_path_factory.mktemp("obs") / "obs.csv"
    write_observation_log(path, scenario(load_layout(FASHION), seed=1))
    with path.open("a", encoding="utf-8") as f:
        f.write("1700000010.5,shopper,b01,abc\n")  # not a number
        f.write("1700000010.5,shopper,999,-60\n")  # unknown (numeric-looking) beacon
        f.write("1700000010.5,shopper,b01,5\n")  # RSSI >= 0
        f.write("1700000010.5,shopper\n")  # malformed line
    return path


def test_locate_writes_positions_and_events_and_reports_bad_rows(
    bad_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "loc"
    code = main(
        [
            "locate",
            "--store",
            str(FASHION),
            "--observations",
            str(bad_csv),
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "malformed_line: 1" in printed and "unknown_beacon: 1" in printed
    assert "rssi_out_of_range: 1" in printed and "not_a_number: 1" in printed
    n_lines = len(bad_csv.read_text().splitlines())
    assert f"lines {n_lines}" in printed  # the malformed last line is named
    with (out / "positions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["t", "device_id", "x", "y", "zone", "sigma_m"]
    per_device: dict[str, list[float]] = {}
    for row in rows:
        per_device.setdefault(row["device_id"], []).append(float(row["t"]))
    for times in per_device.values():  # >= 1 Hz while heard
        assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 1.0 + 1e-6
    events = [
        PresenceEvent.from_cloudevent(json.loads(line))
        for line in (out / "events.jsonl").read_text().splitlines()
    ]
    assert any(e.type == "instore.store.enter" and e.device_id == "shopper" for e in events)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["locator"] == "tracker" and meta["rejected_rows"]["malformed_line"] == 1


def test_locate_is_deterministic_for_a_seed(bad_csv: Path, tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert (
            main(
                [
                    "locate",
                    "--store",
                    str(FASHION),
                    "--observations",
                    str(bad_csv),
                    "-o",
                    str(out),
                    "--quiet",
                    "--seed",
                    "4",
                ]
            )
            == 0
        )
        outs.append(((out / "positions.csv").read_bytes(), (out / "events.jsonl").read_bytes()))
    assert outs[0] == outs[1]


def test_missing_observations_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "locate",
            "--store",
            str(FASHION),
            "--observations",
            str(tmp_path / "nope.csv"),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and "Traceback" not in err


def test_empty_log_gives_empty_outputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("t,device_id,beacon_id,rssi\n")
    out = tmp_path / "o"
    assert (
        main(
            [
                "locate",
                "--store",
                str(FASHION),
                "--observations",
                str(empty),
                "-o",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert (out / "positions.csv").read_text().startswith("t,device_id,x,y")
    assert (out / "events.jsonl").read_text() == ""


@pytest.mark.slow
def test_evaluate_prints_every_figure(
    sim_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "loc"
    assert (
        main(
            [
                "locate",
                "--store",
                str(FASHION),
                "--observations",
                str(sim_dir),
                "-o",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "--truth", str(sim_dir), "--run", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["store"] == "demo-fashion"
    for key in ("median_m", "p90_m", "mean_m"):
        assert report["position_error"][key] >= 0.0
    assert 0.0 <= report["zone_accuracy"] <= 1.0
    assert {"precision", "recall", "f1"} <= set(report["dwell"])
    visits = report["visits"]
    assert {"enter_recall", "exit_recall", "passersby_counted_as_visitors"} <= set(visits)
    assert {"median_s", "p90_s"} <= set(visits["enter_latency"])
    assert report["crb"]["error_over_bound"] > 0.0


def test_evaluate_rejects_a_directory_that_is_not_a_run(
    sim_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--truth", str(sim_dir), "--run", str(tmp_path)]) == 2
    assert "positions.csv" in capsys.readouterr().err
