"""``instore calibrate``: 1 m power through the fake radio, walk fits, in-place layout edits."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from positioning.errors import LayoutError
from positioning.layout import load_layout
from presence.cli import main
from presence.commands.calibrate import set_beacon_tx_power, set_path_loss_exponent

SHOWROOM_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def copy_store(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "shop.toml"
    shutil.copy(src, dst)
    return dst


def radio_at(path: Path, minor: int, rssi: list[int]) -> Path:
    from beacons.frames import encode_payload
    from beacons.ibeacon import IBeacon

    payload = encode_payload(IBeacon(SHOWROOM_UUID, 2, minor, -59)).hex()
    path.write_text(
        "".join(json.dumps({"dt_s": 0.003, "payload": payload, "rssi": r}) + "\n" for r in rssi)
    )
    return path


def test_one_metre_power_is_measured_and_written_with_a_backup(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = copy_store(showroom_path, tmp_path)
    # 2 m from s3, median -68 dBm, exponent 2: P_1m = -68 + 20 log10(2) = -62.0 dBm.
    script = radio_at(tmp_path / "r.jsonl", 3, [-67, -68, -69, -68, -90, -68, -66, -70] * 10)
    args = ["calibrate", "--store", str(store), "--beacon", "s3", "--distance", "2"]
    assert main([*args, "--seconds", "1", "--json", "--fake-advertisements", str(script)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 80 and result["power_1m_dbm"] == pytest.approx(-62.0, abs=0.05)
    assert load_layout(store).beacons[2].tx_power_dbm == pytest.approx(-62.0)
    backups = list(tmp_path.glob("shop.toml.bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == showroom_path.read_text()
    changed = [
        (a, b)
        for a, b in zip(
            showroom_path.read_text().splitlines(), store.read_text().splitlines(), strict=True
        )
        if a != b
    ]
    assert changed == [("tx_power = -59", "tx_power = -62")]


def test_dry_run_and_unknown_beacon(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = copy_store(showroom_path, tmp_path)
    script = radio_at(tmp_path / "r.jsonl", 1, [-60] * 20)
    args = [
        "calibrate",
        "--store",
        str(store),
        "--seconds",
        "0.5",
        "--fake-advertisements",
        str(script),
    ]
    assert main([*args, "--beacon", "s1", "--dry-run"]) == 0
    assert store.read_text() == showroom_path.read_text()
    assert main([*args, "--beacon", "nope"]) == 2
    assert "'nope' is not in" in capsys.readouterr().err


def test_too_few_samples_is_a_clear_error(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = copy_store(showroom_path, tmp_path)
    script = radio_at(tmp_path / "r.jsonl", 1, [-60, -61])
    args = ["calibrate", "--store", str(store), "--beacon", "s1", "--seconds", "0.5"]
    assert main([*args, "--fake-advertisements", str(script)]) == 2
    assert "only 2 RSSI samples" in capsys.readouterr().err


def write_walk(path: Path, store: Path, exponent: float, offsets: np.ndarray, seed: int) -> None:
    layout = load_layout(store)
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "x", "y", "beacon_id", "rssi"])
        for x in np.linspace(1, 11, 6):
            for y in np.linspace(1, 7, 4):
                for b, beacon in enumerate(layout.beacons):
                    d = max(float(np.hypot(x - beacon.x_m, y - beacon.y_m)), 0.5)
                    for _ in range(8):
                        r = beacon.tx_power_dbm + offsets[b] - 10 * exponent * np.log10(d)
                        w.writerow([0, x, y, beacon.id, round(r + rng.normal(0, 3), 1)])
        w.writerow([0, 1, 1, "ghost", -60])
        w.writerow([0, "one", 1, "s1", -60])


def test_walk_fit_reports_and_writes(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = copy_store(showroom_path, tmp_path)
    walk = tmp_path / "walk.csv"
    offsets = np.array([2.0, -3.0, 0.0, 4.0, -1.0])
    write_walk(walk, store, 2.5, offsets, seed=4)
    assert main(["calibrate", "--store", str(store), "--walk", str(walk), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["path_loss_exponent"] == pytest.approx(2.5, abs=0.1)
    assert fit["skipped"] == {"unknown_beacon": 1, "not_a_number": 1}
    got = np.array([b["offset_db"] for b in fit["beacons"]])
    assert np.max(np.abs(got - offsets)) < 1.0
    assert store.read_text() == showroom_path.read_text()  # no --write: untouched

    plot = tmp_path / "walk.png"
    args = ["calibrate", "--store", str(store), "--walk", str(walk), "--write", "--plot", str(plot)]
    assert main(args) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "path-loss exponent" in out and "s4" in out
    layout = load_layout(store)
    assert layout.path_loss_exponent == pytest.approx(2.5, abs=0.1)
    assert layout.tx_power_dbm[3] == pytest.approx(-59 + 4.0, abs=1.0)
    assert store.read_text().startswith("# A 12 x 8 m showroom")  # comments kept


LAYOUT = """# shop
[store]
name = "t"
width = 10.0
height = 10.0

[[beacons]]
tx_power = -59   # datasheet
id = 7
x = 1.0
y = 1.0

[[beacons]]
id = "007"
x = 2.0
y = 2.0
tx_power = -59
"""


def test_edit_finds_ids_in_any_order_and_keeps_comments() -> None:
    text = set_beacon_tx_power(LAYOUT, "7", -61.5)
    assert "tx_power = -61.5   # datasheet" in text
    assert text.count("tx_power = -59") == 1
    text = set_beacon_tx_power(text, "007", -55)
    assert text.endswith('id = "007"\nx = 2.0\ny = 2.0\ntx_power = -55\n')
    with pytest.raises(LayoutError, match="no \\[\\[beacons\\]\\] entry with id '8'"):
        set_beacon_tx_power(LAYOUT, "8", -60)


def test_exponent_is_added_or_replaced() -> None:
    added = set_path_loss_exponent(LAYOUT, 2.3)
    assert "[radio]\npath_loss_exponent = 2.3\n\n[[beacons]]" in added
    replaced = set_path_loss_exponent(added, 2.7)
    assert "path_loss_exponent = 2.7" in replaced and "2.3" not in replaced
    with pytest.raises(LayoutError, match="from 1 to 6"):
        set_path_loss_exponent(LAYOUT, 9.0)
