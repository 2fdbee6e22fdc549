"""``instore ingest-espresense`` against a real broker with recorded-format node reports."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest

from presence.cli import build_parser, main

IBEACON_ID = "iBeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e-100-1"

HOME = """[store]
name = "{name}"
width = 10.0
height = 6.0

[[beacons]]
id = "kitchen"
x = 1.0
y = 1.0
tx_power = -61

[[beacons]]
id = "r2"
x = 9.0
y = 5.0
tx_power = -57
"""


def node_report(device: str, rssi: int, ref: int | None = -59) -> bytes:
    """A report as ESPresense firmware publishes it (BleFingerprint::report field names)."""
    body: dict[str, object] = {
        "id": device,
        "rssi": rssi,
        "raw": 2.5,
        "distance": 2.4,
        "mac": "c2f4a1b30d11",
    }
    if ref is not None:
        body["rssi@1m"] = ref
    return json.dumps(body).encode()


@pytest.mark.broker
@pytest.mark.slow
def test_node_reports_become_observations_on_the_bus(tmp_path: Path, mqtt_url: str) -> None:
    from presence.testing import Collector, wait_until
    from presence.transport.bus import BusClient, BusConfig
    from presence.transport.payloads import decode_deadletter, decode_observations
    from presence.transport.topics import Topics

    store_name = f"home-{uuid.uuid4().hex[:8]}"
    layout = tmp_path / "home.toml"
    layout.write_text(HOME.format(name=store_name))
    topics = Topics(store_name)
    obs, dead = Collector(), Collector()
    args = ["ingest-espresense", "--store", str(layout), "--broker", mqtt_url, "--seconds", "4"]
    args += ["--room-map", "hall=r2", "--publish-interval", "0.2"]
    result: list[int] = []
    build_parser()  # import every command now, so the service starts at once in its thread
    status = Collector()
    with BusClient(BusConfig(mqtt_url), "test", persistent=False) as bus:
        bus.subscribe(topics.obs_filter, obs)
        bus.subscribe(topics.deadletter, dead)
        bus.subscribe(topics.status("ingest-espresense"), status)
        runner = threading.Thread(target=lambda: result.append(main(args)))
        runner.start()
        assert wait_until(lambda: b'"online"' in b"".join(p for _, p in status.snapshot()))

        def publish_round() -> None:
            bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -70))
            bus.publish(f"espresense/devices/{IBEACON_ID}/hall", node_report(IBEACON_ID, -80, None))
            bus.publish("espresense/devices/c2f4a1b30d11/kitchen", node_report("c2f4a1b30d11", -50))
            bus.publish(
                "espresense/devices/apple:1005:9-26/kitchen", node_report("apple:1005:9-26", -50)
            )
            bus.publish(f"espresense/devices/{IBEACON_ID}/attic", node_report(IBEACON_ID, -50))
            bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", b"{broken")

        # The service subscribes just after it says "online": publish until it answers.
        for _ in range(20):
            publish_round()
            if wait_until(lambda: len(obs) > 1 and len(dead) > 0, timeout_s=0.3):
                break
        runner.join(timeout=30)
        assert result == [0]
    scans = [decode_observations(p) for _, p in obs.snapshot()]
    assert {s.device_id for s in scans} == {IBEACON_ID}  # MAC and fingerprint ids never appear
    readings = {(b, r) for s in scans for b, r in s.rssi_dbm.items()}
    # kitchen: -70 - (-59) + (-61) = -72; hall -> r2 without a 1 m reference: raw -80.
    assert {b for b, _ in readings} == {"kitchen", "r2"}
    assert all(r == pytest.approx(-72.0) for b, r in readings if b == "kitchen")
    assert all(r == pytest.approx(-80.0) for b, r in readings if b == "r2")
    letters = [decode_deadletter(p) for _, p in dead.snapshot()]
    assert {d["reason"] for d in letters} == {"bad_json"}
    assert all(d["service"] == "ingest-espresense" for d in letters)


def test_relay_on_the_memory_bus_windows_reports_and_dead_letters_the_broken() -> None:
    """The relay's logic without a broker: one window of reports -> one scan message."""
    from presence.services.espresense import EspresenseIngest, EspresenseRelay
    from presence.testing import MemoryBus
    from presence.transport.payloads import decode_deadletter, decode_observations
    from presence.transport.topics import Topics

    bus = MemoryBus()
    ingest = EspresenseIngest(receivers={"kitchen": -61.0, "r2": -57.0}, room_map={"hall": "r2"})
    relay = EspresenseRelay(ingest, bus, "home", 3600.0, None)
    bus.subscribe("espresense/devices/+/+", relay.on_message)
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -70))
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -72))
    bus.publish(f"espresense/devices/{IBEACON_ID}/hall", node_report(IBEACON_ID, -80, None))
    bus.publish("espresense/devices/c2f4a1b30d11/kitchen", node_report("c2f4a1b30d11", -50))
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", b"{broken")
    topics = Topics("home")
    assert bus.payloads(topics.obs_filter) == []  # the window is still open
    relay.close()
    (scan,) = [decode_observations(p) for p in bus.payloads(topics.obs_filter)]
    # kitchen: mean of -70 and -72, moved onto the receiver's reference: -71 + 59 - 61 = -73.
    assert scan.device_id == IBEACON_ID
    assert scan.rssi_dbm == pytest.approx({"kitchen": -73.0, "r2": -80.0})
    (letter,) = [decode_deadletter(p) for p in bus.payloads(topics.deadletter)]
    assert letter["reason"] == "bad_json" and letter["service"] == "ingest-espresense"
    assert ingest.counts["malformed"] == 1 and ingest.counts["not_intentional_id"] == 1


@pytest.mark.broker
@pytest.mark.slow
def test_reports_sent_while_the_ingest_was_away_are_never_dated_on_its_return(
    tmp_path: Path, mqtt_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: a persistent session handed a restarted ingest the reports queued while it
    was down, dated on arrival (14.2 s late on a real capture). The session is clean now."""
    from presence.testing import Collector, wait_until
    from presence.transport.bus import BusClient, BusConfig
    from presence.transport.topics import Topics

    store_name = f"home-{uuid.uuid4().hex[:8]}"
    layout = tmp_path / "home.toml"
    layout.write_text(HOME.format(name=store_name))
    topic = f"espresense/devices/{IBEACON_ID}/kitchen"
    args = ["ingest-espresense", "--store", str(layout), "--broker", mqtt_url]
    build_parser()
    topics = Topics(store_name)

    def ingest_for(seconds: float, bus: BusClient) -> threading.Thread:
        status = Collector()
        bus.subscribe(topics.status("ingest-espresense"), status)
        runner = threading.Thread(target=main, args=([*args, "--seconds", str(seconds)],))
        runner.start()
        assert wait_until(lambda: b'"online"' in (status.snapshot() or [(None, b"")])[-1][1])
        return runner

    obs = Collector()
    with BusClient(BusConfig(mqtt_url), "test", persistent=False) as bus:
        bus.subscribe(topics.obs_filter, obs)
        ingest_for(1.0, bus).join(timeout=30)  # the first run: it met the broker, then left
        capsys.readouterr()
        for rssi in range(-80, -70):  # heard while no ingest runs, sent at QoS 1
            bus.publish(topic, node_report(IBEACON_ID, rssi), qos=1)
        assert bus.wait_published(10)
        ingest_for(2.0, bus).join(timeout=30)
    assert "kept" not in capsys.readouterr().err
    assert len(obs) == 0


def test_the_relay_dates_readings_by_its_clock_and_dead_letters_impossible_rssi() -> None:
    from presence.services.espresense import EspresenseIngest, EspresenseRelay
    from presence.testing import MemoryBus
    from presence.transport.payloads import decode_deadletter, decode_observations
    from presence.transport.topics import Topics

    bus = MemoryBus()
    ingest = EspresenseIngest(receivers={"kitchen": -61.0})
    relay = EspresenseRelay(ingest, bus, "home", 3600.0, None, clock=lambda: 1234.5)
    bus.subscribe("espresense/devices/+/+", relay.on_message)
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -70))
    # -3 dBm heard from a tag declaring -70 dBm at 1 m: +6 dBm on the receiver's scale.
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -3, -70))
    relay.close()
    topics = Topics("home")
    (scan,) = [decode_observations(p) for p in bus.payloads(topics.obs_filter)]
    assert scan.t_s == 1234.5 and scan.rssi_dbm == pytest.approx({"kitchen": -72.0})
    (letter,) = [decode_deadletter(p) for p in bus.payloads(topics.deadletter)]
    assert letter["reason"] == "rssi_out_of_range" and letter["received_at"] == 1234.5
    assert ingest.counts == {"kept": 1, "rssi_out_of_range": 1}


def test_a_running_relay_reports_its_counts_when_they_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from presence.services import espresense
    from presence.testing import MemoryBus, wait_until

    monkeypatch.setattr(espresense, "COUNTS_EVERY_S", 0.2)
    bus = MemoryBus()
    ingest = espresense.EspresenseIngest(receivers={"kitchen": -61.0})
    relay = espresense.EspresenseRelay(ingest, bus, "home", 0.5, None)
    seen: list[dict[str, int]] = []
    runner = threading.Thread(
        target=espresense.run_relay, args=(relay, 1.2), kwargs={"on_counts": seen.append}
    )
    runner.start()
    assert wait_until(lambda: bus._subs != [])  # subscribed: reports now reach the relay
    node = "iBeacon:e5ca1ade-f007-ba11-0000-000000000000-7-9"
    bus.publish(f"espresense/devices/{IBEACON_ID}/kitchen", node_report(IBEACON_ID, -70))
    bus.publish(f"espresense/devices/{node}/kitchen", node_report(node, -60))
    runner.join(10)
    assert seen == [{"kept": 1, "node_beacon": 1}]  # once: unchanged counts are not repeated
