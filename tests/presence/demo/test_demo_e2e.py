"""``instore demo`` end to end, as a user runs it: real processes, embedded broker, SQLite CRM.

Both run from a directory that is not the checkout, so the default store is found
wherever the command is started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from presence.demo.run import DEFAULT_STORE, DemoOptions, resolve_store
from presence.errors import UsageError
from presence.testing import free_port

pytestmark = [pytest.mark.slow, pytest.mark.broker]

INSTORE = [sys.executable, "-m", "presence.cli"]
SUMMARY_KEYS = {
    "visits",
    "events",
    "welcomes_sent",
    "welcomes_suppressed",
    "max_welcomes_per_visit",
    "welcomes_without_marketing_consent",
    "staff_alerts",
    "alerts_without_personalization_consent",
    "welcome_latency_s",
}


def test_headless_demo_writes_a_summary_of_a_live_run(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [*INSTORE, "demo", "--headless", "--for", "12", "--summary", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["visits"] > 0, "shoppers present from the start are detected"
    assert summary["events"]["instore.store.enter"] == summary["visits"]
    assert summary["events"].get("instore.zone.enter", 0) > 0
    assert sum(summary["welcomes_suppressed"].values()) + summary["welcomes_sent"] > 0
    assert summary["max_welcomes_per_visit"] <= 1
    assert summary["welcomes_without_marketing_consent"] == 0
    assert summary["alerts_without_personalization_consent"] == 0
    assert set(summary["welcome_latency_s"]) >= {"p50", "p90"}
    assert not list(tmp_path.glob("instore-crm*")), "the demo's CRM lives in its own temp dir"


def test_demo_on_an_external_broker_connects_with_the_given_user(tmp_path: Path) -> None:
    """``--broker`` with ``--username`` and the password from the environment (not argv)."""
    from presence.transport.access import AccessList
    from presence.transport.broker import BrokerAuth, start_embedded_broker
    from presence.transport.credentials import hash_password

    acl = AccessList.parse("user staff\ntopic readwrite #\n")
    broker = start_embedded_broker(auth=BrokerAuth({"staff": hash_password("s3cret")}, acl))
    base = [*INSTORE, "demo", "--headless", "--broker", broker.url, "--username", "staff"]
    env = {**os.environ, "INSTORE_MQTT_PASSWORD": "s3cret"}
    out = tmp_path / "summary.json"
    try:
        done = subprocess.run(
            [*base, "--for", "12", "--summary", str(out)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(out.read_text())["visits"] > 0
        assert broker.refusals["connect"] == 0
        env["INSTORE_MQTT_PASSWORD"] = "wrong"
        refused = subprocess.run(
            [*base, "--for", "5"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=240,
        )  # fmt: skip
        assert refused.returncode != 0
        assert re.search("(?i)not authori[sz]ed", refused.stderr), refused.stderr[-2000:]
    finally:
        broker.close()


def test_interactive_demo_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*INSTORE, "demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        link = re.search(rf"http://127\.0\.0\.1:{port}/\?token=[\w-]+", line)
        assert link is not None, f"the demo prints the page's link with its token: {line!r}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/layout", timeout=10)
        assert refused.value.code == 401, "no data without the token"
        refused.value.close()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(link.group(0), timeout=10) as r:  # the token becomes a cookie
            assert r.url == f"http://127.0.0.1:{port}/" and b"<svg" in r.read()
        with browser.open(f"http://127.0.0.1:{port}/api/layout", timeout=10) as r:
            assert json.load(r)["name"] == "demo-fashion"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_default_store_is_found_from_anywhere_and_bad_options_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_store(Path("examples/stores/fashion.toml")).name == "fashion.toml"
    # the demo runs on the planned fashion layout with its street radios (issue 17.3),
    # found from anywhere
    default = resolve_store(Path(DEFAULT_STORE))
    assert default.parent.parent.name == "planned" and default.name == "fashion.toml"
    assert default.is_file()
    with pytest.raises(UsageError, match="nowhere.toml"):
        resolve_store(Path("nowhere.toml"))
    assert DemoOptions(Path("x"), for_s=30, speed=10).window_s == pytest.approx(360.0)
    done = subprocess.run(
        [*INSTORE, "demo", "--headless"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--for" in done.stderr


def radio_script(path: Path, rounds: int) -> Path:
    """The presenter's phone standing near beacon s3, mid-showroom (fake Bluetooth radio).

    Not at the shop front: a phone just behind the glass is as likely outside as inside
    for the tracker until it has been heard longer than a passer-by would be (60 s).
    """
    from beacons.frames import encode_payload
    from beacons.ibeacon import IBeacon

    uuid = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
    lines = []
    for i in range(rounds):
        for minor, rssi in ((1, -75), (2, -77), (3, -60), (4, -74), (5, -76)):
            payload = encode_payload(IBeacon(uuid, 2, minor, -59)).hex()
            lines.append({"dt_s": 0.02, "payload": payload, "rssi": rssi - i % 3})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_scan_source_greets_the_presenter_and_alerts_staff(
    tmp_path: Path, showroom_path: Path
) -> None:
    script = radio_script(tmp_path / "radio.jsonl", rounds=1500)
    out = tmp_path / "summary.json"
    args = ["--source", "scan", "--store", str(showroom_path), "--fake-advertisements", str(script)]
    done = subprocess.run(
        [*INSTORE, "demo", *args, "--headless", "--for", "40", "--summary", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary["visits"] == 1
    assert summary["staff_alerts"] == 1, "the presenter's CRM profile consents to personalization"
    assert summary["alerts_without_personalization_consent"] == 0
    assert summary["welcomes_sent"] + sum(summary["welcomes_suppressed"].values()) == 1
    assert summary["welcomes_without_marketing_consent"] == 0
