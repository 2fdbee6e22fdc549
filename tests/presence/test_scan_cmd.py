"""``instore scan`` end to end through bleak's BleakScanner with the fake radio backend."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from presence.cli import main
from presence.services.scanning import ScanWindows

SHOWROOM_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
STRANGER_UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


def radio_script(path: Path, rounds: int = 40, dt_s: float = 0.005) -> Path:
    """Beacons s1..s3 of the showroom heard at fixed RSSI, plus one iBeacon not in the layout."""
    lines = []
    for i in range(rounds):
        for minor, rssi in ((1, -60), (2, -80), (3, -70)):
            payload = encode_payload(IBeacon(SHOWROOM_UUID, 2, minor, -59)).hex()
            lines.append({"dt_s": dt_s, "payload": payload, "rssi": rssi - i % 3})
    stranger = encode_payload(IBeacon(STRANGER_UUID, 7, 7, -59)).hex()
    lines.append({"dt_s": dt_s, "payload": stranger, "rssi": -77})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_table_lists_heard_missing_and_foreign_beacons(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = radio_script(tmp_path / "radio.jsonl")
    args = ["scan", "--store", str(showroom_path), "--table", "--seconds", "1.5"]
    assert main([*args, "--fake-advertisements", str(script)]) == 0
    out, err = capsys.readouterr()
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert "not heard" in lines["s4"] and "not heard" in lines["s5"]
    assert " 40 " in lines["s1"] and "not heard" not in lines["s1"]
    assert STRANGER_UUID[:8] in out and "not in layout" in out
    assert "layout beacons 120, other beacons 1" in err


def test_bad_radio_script_is_one_line(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"payload": "02", "rssi": -60}\n{"oops": 1}\n')
    code = main(
        ["scan", "--store", str(showroom_path), "--table", "--fake-advertisements", str(bad)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "Traceback" not in err


@pytest.mark.skipif(
    Path("/run/dbus/system_bus_socket").exists(), reason="this machine has a D-Bus system bus"
)
def test_no_bluetooth_stack_is_one_line_with_next_steps(
    showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--store", str(showroom_path), "--table", "--seconds", "5"]) == 2
    err = capsys.readouterr().err
    assert "D-Bus system bus is not reachable" in err and "Next steps:" in err
    assert "Traceback" not in err


def test_scan_windows_average_per_beacon_and_device() -> None:
    from beacons.observation import Observation

    sent: list[tuple[str, float, dict[str, float]]] = []
    w = ScanWindows(0.5, lambda s: sent.append((s.device_id, s.t_s, dict(s.rssi_dbm))))
    for t, b, r in [(0.0, "a", -60.0), (0.2, "a", -70.0), (0.3, "b", -80.0), (0.6, "a", -50.0)]:
        w.add(Observation(t, "dev", b, r))
    w.flush_due(0.7)  # window opened at 0.6: not due
    w.flush_due(1.2)
    assert sent == [("dev", 0.3, {"a": -65.0, "b": -80.0}), ("dev", 0.6, {"a": -50.0})]


@pytest.mark.broker
def test_scan_publishes_observations(tmp_path: Path, showroom_path: Path, mqtt_url: str) -> None:
    from presence.testing import Collector, wait_until
    from presence.transport.bus import BusClient, BusConfig
    from presence.transport.payloads import decode_observations
    from presence.transport.topics import Topics

    script = radio_script(tmp_path / "radio.jsonl", rounds=60, dt_s=0.01)
    collector = Collector()
    device = f"scan-test-{tmp_path.name}"
    with BusClient(BusConfig(mqtt_url), "test", persistent=False) as bus:
        bus.subscribe(Topics("demo-showroom").obs(device), collector)
        args = ["scan", "--store", str(showroom_path), "--broker", mqtt_url, "--seconds", "2.5"]
        args += ["--device-id", device, "--fake-advertisements", str(script)]
        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(main(args)))
        t.start()
        t.join(timeout=30)
        assert result == [0]
        assert wait_until(lambda: len(collector) >= 3, timeout_s=5)
    scans = [decode_observations(p) for _, p in collector.snapshot()]
    assert {s.device_id for s in scans} == {device}
    beacons = {b for s in scans for b in s.rssi_dbm}
    assert beacons == {"s1", "s2", "s3"}
    assert all(-83 <= r <= -60 for s in scans for r in s.rssi_dbm.values())


def test_engine_mode_prints_positions_near_the_loudest_beacon(
    tmp_path: Path, showroom_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = radio_script(tmp_path / "radio.jsonl", rounds=120, dt_s=0.02)
    args = ["scan", "--store", str(showroom_path), "--engine", "--positions", "--seconds", "3"]
    assert main([*args, "--fake-advertisements", str(script)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    positions = [r["position"] for r in rows if "position" in r]
    assert positions, "the engine produced no position in 3 s of advertisements"
    last = positions[-1]
    # s1 at (0.5, 0.5) is heard 10-20 dB louder than s2 (11.5, 0.5) and s3 (6, 4).
    assert last["x"] < 6.0 and last["y"] < 4.0
