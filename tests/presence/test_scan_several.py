"""Several scanners feeding one ``instore run`` (docs/beacons.md, "Several scanners"): two
``instore scan --broker`` processes with their own fake radios, as two phones in the store."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from positioning.events import STORE_ENTER, ZONE_ENTER
from presence.testing import Collector, wait_until
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import decode_event, decode_status
from presence.transport.topics import Topics, scanner_service

pytestmark = [pytest.mark.slow]

INSTORE = [sys.executable, "-m", "presence.cli"]
UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
#: Seconds each phone is heard: long enough for the engine to tell a visit from a passer-by.
HEARD_S = 45.0


def phone_script(path: Path, loud_minor: int) -> Path:
    """A phone standing by beacon ``loud_minor`` of the showroom, hearing the others faintly."""
    lines = []
    for i in range(int(HEARD_S / 0.25)):
        for minor in range(1, 6):
            rssi = -60 if minor == loud_minor else -78
            payload = encode_payload(IBeacon(UUID, 2, minor, -59)).hex()
            lines.append(json.dumps({"dt_s": 0.05, "payload": payload, "rssi": rssi - i % 3}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_scanners_feed_one_engine(tmp_path: Path, showroom_path: Path, mqtt_url: str) -> None:
    # A store of its own: other tests may use the showroom's topics on a shared broker.
    store = f"showroom-{uuid.uuid4().hex[:8]}"
    layout = tmp_path / "store.toml"
    layout.write_text(showroom_path.read_text().replace('"demo-showroom"', f'"{store}"'))
    topics = Topics(store)
    phones = {"phone-a": 4, "phone-b": 5}  # s4 by the displays, s5 by the counter
    events, statuses = Collector(), Collector()
    run = subprocess.Popen(
        [*INSTORE, "run", "--store", str(layout), "--broker", mqtt_url,
         "--client-id", f"instore-run-{store}"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with BusClient(BusConfig(mqtt_url), "test", persistent=False) as bus:
            bus.subscribe(topics.events_filter, events)
            bus.subscribe(topics.status_filter, statuses)
            scans = [
                subprocess.Popen(
                    [
                        *INSTORE,
                        "scan",
                        "--store",
                        str(layout),
                        "--broker",
                        mqtt_url,
                        "--device-id",
                        device,
                        "--fake-advertisements",
                        str(phone_script(tmp_path / f"{device}.jsonl", minor)),
                    ],
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                for device, minor in phones.items()
            ]
            for scan in scans:
                _, err = scan.communicate(timeout=HEARD_S + 60)
                assert scan.returncode == 0, err[-2000:]

            def entered() -> set[str]:
                got = (decode_event(p) for _, p in events.snapshot())
                return {e.device_id for e in got if e.type == STORE_ENTER}

            assert wait_until(lambda: entered() == set(phones), timeout_s=20), entered()
    finally:
        run.terminate()
        run.communicate(timeout=30)
    seen = [decode_event(p) for _, p in events.snapshot()]
    zones = {(e.device_id, e.zone) for e in seen if e.type == ZONE_ENTER}
    assert ("phone-a", "displays") in zones and ("phone-b", "counter") in zones, zones
    # Each scanner is its own service: its own client id and status topic.
    by_topic: dict[str, list[dict[str, object]]] = {}
    for topic, payload in statuses.snapshot():
        by_topic.setdefault(topic, []).append(decode_status(payload))
    for device in phones:
        said = by_topic[topics.status(scanner_service(device))]
        assert any(
            isinstance(s.get("scanner"), dict) and s["scanner"]["adapter"] == "scanning"  # type: ignore[index]
            for s in said
        ), said
    client_ids = {
        s["client_id"] for d in phones for s in by_topic[topics.status(scanner_service(d))]
    }
    assert len(client_ids) == 2
