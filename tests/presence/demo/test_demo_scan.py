"""``instore demo --source scan`` as store staff use it: a clear start when the adapter is
missing, the shipped radio scripts through bleak's own scanner path, and an adapter that
vanishes mid-demo shown on the dashboard and recovered from."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from beacons.scanner import RetryPolicy
from presence.demo.run import Demo, DemoOptions
from presence.testing import free_port

pytestmark = [pytest.mark.slow, pytest.mark.broker]

INSTORE = [sys.executable, "-m", "presence.cli"]
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SHOWROOM = EXAMPLES / "stores" / "showroom.toml"
UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def demo(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INSTORE, "demo", "--source", "scan", "--store", str(SHOWROOM), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], summary: Path) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Next steps:" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not summary.exists(), "no empty summary of a demo that never ran"


def test_a_refusing_adapter_stops_the_demo_before_it_starts(tmp_path: Path) -> None:
    script = tmp_path / "no-adapter.jsonl"
    script.write_text('{"adapter_outage": 1}\n')  # an outage before anything: no adapter
    summary = tmp_path / "s.json"
    began = time.monotonic()
    done = demo(
        "--fake-advertisements",
        str(script),
        "--headless",
        "--for",
        "15",
        "--summary",
        str(summary),
        cwd=tmp_path,
    )
    assert_one_line_error(done, summary)
    assert "was not found" in done.stderr and "bluetoothctl" in done.stderr
    assert time.monotonic() - began < 15, "it did not run the 15 s before failing"


@pytest.mark.skipif(
    Path("/run/dbus/system_bus_socket").exists(), reason="this machine has a D-Bus system bus"
)
def test_no_bluetooth_stack_stops_the_demo_before_it_starts(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    done = demo("--headless", "--for", "15", "--summary", str(summary), cwd=tmp_path)
    assert_one_line_error(done, summary)
    assert "D-Bus system bus is not reachable" in done.stderr


def test_the_shipped_visit_script_gives_a_visit_zones_and_a_staff_alert(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    script = EXAMPLES / "radio" / "showroom-visit.jsonl"
    done = demo(
        "--fake-advertisements",
        str(script),
        "--speed",
        "10",
        "--headless",
        "--for",
        "120",
        "--summary",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the radio scripts are over" in done.stderr, "it ended with the script, not --for"
    summary = json.loads(out.read_text())
    events = summary["events"]
    assert summary["visits"] == 1
    assert events.get("instore.store.exit") == 1, "the person left, and the engine saw it"
    assert events.get("instore.zone.enter", 0) >= 2, "stops at two places"
    assert events.get("instore.dwell.start", 0) >= 1
    assert summary["staff_alerts"] == 1, "the presenter's phone belongs to a consenting customer"
    assert summary["alerts_without_personalization_consent"] == 0
    assert summary["welcomes_sent"] + sum(summary["welcomes_suppressed"].values()) == 1


def outage_script(path: Path, before_s: float, after_s: float, failed_starts: int) -> Path:
    """A phone near s3 heard every 50 ms; the adapter vanishes in between."""
    payload = encode_payload(IBeacon(UUID, 2, 3, -59)).hex()
    line = json.dumps({"dt_s": 0.05, "payload": payload, "rssi": -62})
    lines = [line] * int(before_s / 0.05)
    lines.append(json.dumps({"adapter_outage": failed_starts}))
    lines += [line] * int(after_s / 0.05)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_adapter_lost_mid_demo_shows_offline_since_when_and_recovers(tmp_path: Path) -> None:
    script = outage_script(tmp_path / "outage.jsonl", before_s=3.0, after_s=4.0, failed_starts=3)
    retry = RetryPolicy(initial_s=0.6, max_s=0.6, silence_restart_s=1.0)  # ~2 s lost
    options = DemoOptions(
        store=SHOWROOM,
        source="scan",
        port=free_port(),
        fake_advertisements=(str(script),),
        scanner_retry=retry,
        workdir=tmp_path / "work",
    )
    run = Demo(options)
    seen: list[tuple[str, float | None]] = []
    try:
        run.start()
        assert run.dashboard is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not run.source_done.is_set():
            scanners = run.dashboard.hub.snapshot()["scanners"]
            if scanners:
                state = (scanners[0]["state"], scanners[0]["since"])
                if not seen or seen[-1] != state:
                    seen.append(state)
                if state[0] == "lost":
                    assert not run.source_done.is_set(), "the demo keeps running"
                    assert all(
                        t.is_alive() for t in threading.enumerate() if t.name == "live-engine"
                    )
            time.sleep(0.05)
        assert run.source_done.is_set(), "the script played to its end after the outage"
    finally:
        run.stop()
    states = [s for s, _ in seen]
    assert states[:3] == ["scanning", "lost", "scanning"], seen
    lost_since, back_since = seen[1][1], seen[2][1]
    assert lost_since is not None and back_since is not None
    assert 1.0 <= back_since - lost_since <= 6.0, (
        "offline from the last advertisement to the restart"
    )
