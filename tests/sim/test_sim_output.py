"""Output contract, determinism, atomic writes, bad layouts and the two commands."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from positioning.errors import LayoutError
from presence.cli import main
from sim.errors import SimError
from sim.obslog import read_observation_log
from sim.params import SimConfig
from sim.run import simulate

START_S = 1_795_942_800.0
STORES = Path(__file__).resolve().parents[2] / "examples" / "stores"
FILES = ("observations", "truth", "visits", "zone_visits", "dwells")
CONTRACT = {
    "observations": {"t": "double", "device_id": "string", "beacon_id": "string", "rssi": "double"},
    "truth": {
        "t": "double",
        "device_id": "string",
        "x": "double",
        "y": "double",
        "heading_rad": "double",
        "kind": "string",
        "zone": "string",
        "visible": "bool",
    },
    "visits": {
        "device_id": "string",
        "kind": "string",
        "persona": "string",
        "enter_t": "double",
        "exit_t": "double",
        "visible": "bool",
    },
    "zone_visits": {
        "device_id": "string",
        "zone": "string",
        "enter_t": "double",
        "exit_t": "double",
    },
    "dwells": {"device_id": "string", "zone": "string", "start_t": "double", "end_t": "double"},
}


def _small(seed: int = 4, shoppers: int = 4) -> SimConfig:
    return SimConfig(shoppers=shoppers, duration_s=300.0, start_s=START_S, seed=seed)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    store = STORES / "showroom.toml"
    simulate(store, _small(), tmp_path / "a")
    simulate(store, _small(), tmp_path / "b")
    simulate(store, _small(seed=5), tmp_path / "c")
    for name in [f"{f}.parquet" for f in FILES] + ["meta.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "observations.parquet").read_bytes() != (
        tmp_path / "c" / "observations.parquet"
    ).read_bytes()


def test_output_contract_with_numeric_looking_ids(tmp_path: Path) -> None:
    out = tmp_path / "day"
    result = simulate(STORES / "supermarket.toml", _small(shoppers=3), out)
    for name, columns in CONTRACT.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert {f.name: str(f.type) for f in schema} == columns, name
    log = read_observation_log(out, beacon_ids=[str(i) for i in range(1001, 1049)])
    assert len(log.batch) == result.observations > 0
    assert log.rejected.total == 0 and log.rejected.out_of_order == 0
    assert set(log.batch.beacon_id.tolist()) <= {str(i) for i in range(1001, 1049)}
    obs = pd.read_parquet(out / "observations.parquet")
    assert (obs["rssi"] == obs["rssi"].round()).all()
    assert obs["rssi"].between(-127, -1).all()
    visits = pd.read_parquet(out / "visits.parquet")
    visible = set(visits.loc[visits["visible"], "device_id"])
    assert set(obs["device_id"]) <= visible < set(visits["device_id"])
    truth = pd.read_parquet(out / "truth.parquet")
    assert set(truth["device_id"]) == set(visits["device_id"])
    step = truth.groupby("device_id")["t"].diff().dropna()
    assert step.max() == pytest.approx(0.2)  # 5 Hz
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 4 and meta["parameters"]["radio"]["shadowing_sigma_db"] == 4.0
    assert meta["counts"]["observations"] == result.observations


def test_csv_format_keeps_leading_zero_ids_as_strings(tmp_path: Path) -> None:
    text = (STORES / "showroom.toml").read_text()
    for i in range(1, 6):
        text = text.replace(f'id = "s{i}"', f'id = "00{i}"')
    store = tmp_path / "zeros.toml"
    store.write_text(text)
    out = tmp_path / "day"
    simulate(store, _small(shoppers=2), out, fmt="csv")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{f}.csv" for f in FILES] + ["meta.json"]
    )
    log = read_observation_log(out / "observations.csv", beacon_ids=[f"00{i}" for i in range(1, 6)])
    assert log.rejected.total == 0 and len(log.batch) > 0
    assert set(log.batch.beacon_id.tolist()) <= {f"00{i}" for i in range(1, 6)}


def test_failure_leaves_nothing_behind_and_keeps_the_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "day"
    simulate(STORES / "showroom.toml", _small(), out)
    before = (out / "observations.parquet").read_bytes()

    def explode(_: float) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        simulate(STORES / "showroom.toml", _small(seed=9), out, progress=explode)
    assert (out / "observations.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day"]


def test_refuses_to_overwrite_a_directory_that_is_not_a_simulation(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SimError, match="not empty"):
        simulate(STORES / "showroom.toml", _small(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _layout(tmp_path: Path, extra: str, entrance: bool = True) -> Path:
    text = (STORES / "showroom.toml").read_text()
    if not entrance:
        text = text.replace("entrance = [[5.0, 0.0], [7.0, 0.0]]\n", "")
    p = tmp_path / "store.toml"
    p.write_text(text + extra)
    return p


def test_bad_layouts_are_rejected_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"radio\.body_loss_db"):
        simulate(_layout(tmp_path, '\n[radio]\nbody_loss_db = "loud"\n'), _small(), tmp_path / "o")
    with pytest.raises(SimError, match=r"store\.entrance"):
        simulate(_layout(tmp_path, "", entrance=False), _small(), tmp_path / "o")
    with pytest.raises(LayoutError, match=r"beacons\[0\]\.tx_power"):
        text = (STORES / "showroom.toml").read_text().replace("tx_power = -59", "tx_power = 'x'", 1)
        (tmp_path / "bad.toml").write_text(text)
        simulate(tmp_path / "bad.toml", _small(), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_layout_radio_table_overrides_the_model(tmp_path: Path) -> None:
    out = tmp_path / "o"
    simulate(_layout(tmp_path, "\n[radio]\nshadowing_sigma_db = 6.5\n"), _small(), out)
    assert (
        json.loads((out / "meta.json").read_text())["parameters"]["radio"]["shadowing_sigma_db"]
        == 6.5
    )


def test_cli_simulate_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "day"
    store = str(STORES / "showroom.toml")
    args = [
        "simulate",
        "--store",
        store,
        "--shoppers",
        "3",
        "--duration",
        "4m",
        "--seed",
        "2",
        "-o",
        str(out),
        "--quiet",
    ]
    settings = ["--set", "radio.body_loss_db=5", "--set", "crowd.fun_zones=2,3"]
    assert main([*args, "--topology", "receivers", "--visible-share", "1", *settings]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["parameters"]["scan"]["topology"] == "receivers"
    assert meta["parameters"]["scan"]["scan_duty_cycle"] == 0.95
    assert meta["parameters"]["radio"]["body_loss_db"] == 5.0
    assert meta["parameters"]["crowd"]["fun_zones"] == [2, 3]
    bad = ["--set", "radio.nonsense=1"]
    assert main([*args, *bad]) == 2
    assert "radio.nonsense" in capsys.readouterr().err
    assert meta["duration_s"] == 240.0
    png = tmp_path / "plan.png"
    assert main(["plot", "--store", store, "--truth", str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(
            ["simulate", "--store", store, "--shoppers", "3", "--duration", "soon", "-o", str(out)]
        )
        == 2
    )
    assert "--duration" in capsys.readouterr().err
