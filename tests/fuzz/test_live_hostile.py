"""The live fuzz test of issue 18 (build 7): a simulated hour replayed through `instore run`
with 10,000 hostile messages mixed in gives exactly the events of the clean run, and every
hostile message is dead-lettered, counted by reason.

The hostile messages are the issue's cases (NUL and other bad ids, times outside
1970..2100, NaN, 400- and 5,000-digit integers, wrong types, oversized payloads, bad JSON)
and seeded random mutations of good scans. Each is checked offline to be one the decoders
refuse (the same decoding `run` does), so the test asks of the live system what the unit
campaigns cannot: that under load, interleaved with real scans of the same devices, no
bad message costs a good neighbour and none is lost uncounted.

The clean reference is `instore locate` on the same log: with one message per row group
(scan window 0) `run` gives exactly its events, `detected_at` included
(tests/presence/services/test_replay.py).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from positioning.layout import load_layout
from presence.cli import main
from presence.services.replay import replay_log
from presence.testing import Collector, Instore, PrivateMosquitto, simulated_day, wait_until
from presence.transport.broker import EmbeddedBroker
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import (
    END_OF_STREAM,
    MAX_PAYLOAD_BYTES,
    PayloadError,
    decode_control,
    decode_deadletter,
    decode_event,
    decode_observations,
    encode_control,
    encode_observations,
)
from presence.transport.topics import Topics

SHOWROOM = Path(__file__).resolve().parents[2] / "examples" / "stores" / "showroom.toml"
STORE = "demo-showroom"
HOSTILE_MESSAGES = 10_000
SEED = 18
#: Oversized payloads are a few of the mix: 10,000 of them would be 700 MB of traffic.
OVERSIZED_SHARE = 0.005

pytestmark = [pytest.mark.slow, pytest.mark.broker]


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    Instore.kill_all()


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The embedded broker, and a private Mosquitto (no queue limit, unlike a default one)."""
    if request.param == "embedded":
        with EmbeddedBroker() as broker:
            yield broker.url
        return
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("no mosquitto binary")
    with PrivateMosquitto(tmp_path / "mosquitto") as mosquitto:
        yield mosquitto.url


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_day(tmp_path_factory.getbasetemp(), SHOWROOM, shoppers=10, duration="60m")


@pytest.fixture(scope="module")
def located(hour: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("locate")
    args = ["locate", "--store", str(SHOWROOM), "--observations", str(hour), "-o", str(out)]
    assert main([*args, "--quiet"]) == 0
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


# --- the hostile messages ----------------------------------------------------------------

#: Values no field may take; JSON text is written in place of the markers after dumps.
_RAW = {
    "__BIG400__": "1" + "0" * 400,
    "__BIG5000__": "-" + "9" * 5000,
    "__EXP__": "1e99999",
    "__NAN__": "NaN",
    "__INF__": "-Infinity",
}
BAD_TIMES: list[Any] = [-1.0, 0, -1e9, 1e300, 4_102_444_800.0, 1e20, "__NAN__", "__INF__"]
BAD_NUMBERS: list[Any] = ["__BIG400__", "__BIG5000__", "__EXP__", 2**70, -(2**70)]
BAD_TYPES: list[Any] = ["1795392000", [1, 2], {"a": 1}, None, True, ""]
BAD_RSSI: list[Any] = [0, 5.0, -200, -1e300, "__NAN__", "-70", [-70]]
BAD_IDS = ["d\x00x", "a/b", "+", "#", "x" * 129, " lead", "tab\there", "\u202eevil", ""]
BAD_SCHEMAS: list[Any] = ["instore.obs/2", "instore.obs", "", 1, None]


def _dumps(obj: Any) -> bytes:
    text = json.dumps(obj, allow_nan=True)
    for marker, raw in _RAW.items():
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


class Hostile:
    """Seeded hostile messages for one store: (topic, payload) pairs and the reasons `run`
    must give, each checked here against the decoders it uses."""

    def __init__(self, topics: Topics, devices: list[str], beacons: tuple[str, ...], t0: float):
        self.topics, self.devices, self.beacons, self.t0 = topics, devices, beacons, t0
        self.rng = np.random.default_rng(SEED)

    def pick(self, values: list[Any]) -> Any:
        return values[int(self.rng.integers(len(values)))]

    def good(self) -> dict[str, Any]:
        device = self.pick(self.devices)
        k = int(self.rng.integers(1, len(self.beacons) + 1))
        chosen = [str(b) for b in self.rng.choice(self.beacons, size=k, replace=False)]
        t = self.t0 + float(self.rng.uniform(0, 3600))
        rssi = {b: float(-40 - self.rng.integers(0, 60)) for b in chosen}
        return json.loads(encode_observations(device, t, rssi))

    # Each case returns (topic, payload); the device topic is a real device's unless noted.
    def _on_device(self, scan: dict[str, Any]) -> tuple[str, bytes]:
        return self.topics.obs(self.pick(self.devices)), _dumps(scan)

    def bad_json(self) -> tuple[str, bytes]:
        good = _dumps(self.good())
        payloads = [
            self.rng.bytes(int(self.rng.integers(1, 200))),
            good[: int(self.rng.integers(1, len(good)))],
            b"\xff\xfe" + good,
            b"[" * 5000 + b"]" * 5000,
            b'{"schema": "instore.obs/1", "t": 1, "t": }',
            b"null",
            b'"a string"',
        ]
        return self.topics.obs(self.pick(self.devices)), self.pick(payloads)

    def bad_id(self) -> tuple[str, bytes]:
        scan, bad = self.good(), self.pick(BAD_IDS)
        if self.rng.random() < 0.5:
            scan["device"] = bad
            # Only a printable id goes in the topic: Mosquitto drops a client whose topic
            # holds control characters (MQTT-1.5.3-2), which is not what this test is about.
            safe = bad.isprintable() and bad and all(c not in bad for c in "/+#")
            topic = self.topics.obs(bad) if safe else self.topics.obs(self.pick(self.devices))
            return topic, _dumps(scan)
        beacon = next(iter(scan["rssi"]))
        scan["rssi"][bad or "zz-unknown"] = scan["rssi"].pop(beacon)
        return self.topics.obs(scan["device"]), _dumps(scan)

    def _field(self, field: str, values: list[Any]) -> tuple[str, bytes]:
        scan = self.good()
        topic = self.topics.obs(scan["device"])
        scan[field] = self.pick(values)
        return topic, _dumps(scan)

    def bad_time(self) -> tuple[str, bytes]:
        return self._field("t", BAD_TIMES)

    def huge_number(self) -> tuple[str, bytes]:
        scan = self.good()
        if self.rng.random() < 0.5:
            scan["t"] = self.pick(BAD_NUMBERS)
        else:
            scan["rssi"][next(iter(scan["rssi"]))] = self.pick(BAD_NUMBERS)
        return self.topics.obs(scan["device"]), _dumps(scan)

    def wrong_type(self) -> tuple[str, bytes]:
        field = self.pick(["t", "rssi", "device", "dt"])
        return self._field(field, BAD_TYPES)

    def bad_rssi(self) -> tuple[str, bytes]:
        scan = self.good()
        scan["rssi"][next(iter(scan["rssi"]))] = self.pick(BAD_RSSI)
        return self.topics.obs(scan["device"]), _dumps(scan)

    def bad_schema(self) -> tuple[str, bytes]:
        return self._field("schema", BAD_SCHEMAS)

    def missing_field(self) -> tuple[str, bytes]:
        scan = self.good()
        del scan[self.pick(["schema", "device", "t", "rssi"])]
        return self.topics.obs(self.pick(self.devices)), _dumps(scan)

    def bad_dt(self) -> tuple[str, bytes]:
        scan = self.good()
        beacons = list(scan["rssi"])
        scan["dt"] = self.pick(
            [
                {b: 11.0 for b in beacons},
                {b: -0.5 for b in beacons},
                {"zz": 0.0},
                {b: "__NAN__" for b in beacons},
            ]
        )
        return self.topics.obs(scan["device"]), _dumps(scan)

    def topic_mismatch(self) -> tuple[str, bytes]:
        scan = self.good()
        others = [d for d in self.devices if d != scan["device"]]
        return self.topics.obs(self.pick(others)), _dumps(scan)

    def oversized(self) -> tuple[str, bytes]:
        scan = self.good()
        scan["padding"] = "x" * (MAX_PAYLOAD_BYTES + int(self.rng.integers(1, 4096)))
        return self.topics.obs(scan["device"]), _dumps(scan)

    def bad_control(self) -> tuple[str, bytes]:
        good = json.loads(encode_control(END_OF_STREAM, t_s=self.t0, source="replay"))
        field, values = self.pick(
            [
                ("command", ["stop_everything", "", None, 1]),
                ("t", BAD_TIMES + BAD_NUMBERS),
                ("schema", ["instore.control/2", None]),
            ]
        )
        good[field] = self.pick(values)
        return self.topics.control, _dumps(good)

    def random_mutation(self) -> tuple[str, bytes]:
        """A good scan with 1-3 fields replaced by any hostile value, or a random object."""
        scan = self.good()
        pool = BAD_TIMES + BAD_NUMBERS + BAD_TYPES + BAD_IDS + BAD_SCHEMAS + BAD_RSSI
        if self.rng.random() < 0.2:
            keys = ["schema", "device", "t", "rssi", "dt", "x", "\x00"]
            scan = {self.pick(keys): self.pick(pool) for _ in range(int(self.rng.integers(1, 6)))}
        else:
            for _ in range(int(self.rng.integers(1, 4))):
                scan[self.pick(["schema", "device", "t", "rssi", "dt"])] = self.pick(pool)
        return self.topics.obs(self.pick(self.devices)), _dumps(scan)

    def reason(self, topic: str, payload: bytes) -> str | None:
        """The dead-letter reason `run` gives, or None if it would accept the message."""
        try:
            if topic == self.topics.control:
                decode_control(payload)
            else:
                scan = decode_observations(payload, self.beacons)
                if scan.device_id != topic.rpartition("/")[2]:
                    return "topic_mismatch"
        except PayloadError as e:
            return e.reason
        return None

    def messages(self, n: int) -> tuple[list[tuple[str, bytes]], Counter[str]]:
        cases: list[Callable[[], tuple[str, bytes]]] = [
            self.bad_json,
            self.bad_id,
            self.bad_time,
            self.huge_number,
            self.wrong_type,
            self.bad_rssi,
            self.bad_schema,
            self.missing_field,
            self.bad_dt,
            self.topic_mismatch,
            self.bad_control,
            self.random_mutation,
            self.random_mutation,
        ]
        out: list[tuple[str, bytes]] = []
        reasons: Counter[str] = Counter()
        while len(out) < n:
            case = self.oversized if self.rng.random() < OVERSIZED_SHARE else self.pick(cases)
            topic, payload = case()
            why = self.reason(topic, payload)
            if why is None or not payload:  # a harmless draw, or one amqtt would drop unread
                continue
            out.append((topic, payload))
            reasons[why] += 1
        return out, reasons


class Mixer:
    """The replay's bus, slipping the hostile messages in between its scans at seeded
    places (all before the end of stream, which `run --until-end` stops at)."""

    def __init__(self, bus: BusClient, hostile: list[tuple[str, bytes]], scans: int) -> None:
        self.bus = bus
        self.hostile = hostile
        rng = np.random.default_rng(SEED + 1)
        self.after = np.sort(rng.integers(0, scans, size=len(hostile)))
        self.scans = 0
        self.next = 0
        self.end_seen_after_all = False

    def publish(self, topic: str, payload: bytes, **kw: Any) -> None:
        if topic.endswith("/control"):  # the replay's end of stream
            self.end_seen_after_all = self.next == len(self.hostile)
        self.bus.publish(topic, payload, **kw)
        if topic.endswith("/control"):
            return
        self.scans += 1
        while self.next < len(self.hostile) and self.after[self.next] < self.scans:
            topic_h, payload_h = self.hostile[self.next]
            self.bus.publish(topic_h, payload_h)
            self.next += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


def _scan_messages(hour: Path) -> tuple[int, list[str], float]:
    from presence.services.replay import scans
    from sim.obslog import iter_observation_log

    layout = load_layout(SHOWROOM)
    count, devices, t0 = 0, set(), math.inf
    for batch, _rejected in iter_observation_log(str(hour), beacon_ids=layout.beacon_ids):
        for scan in scans(batch, 0.0):
            count += 1
            devices.add(scan.device_id)
            t0 = min(t0, scan.t_s)
    return count, sorted(devices), t0


def test_hostile_messages_change_no_event_and_are_all_dead_lettered(
    broker_url: str, hour: Path, located: list[dict[str, Any]], tmp_path: Path
) -> None:
    layout = load_layout(SHOWROOM)
    topics = Topics(STORE)
    scans, devices, t0 = _scan_messages(hour)
    hostile, expected = Hostile(topics, devices, tuple(layout.beacon_ids), t0).messages(
        HOSTILE_MESSAGES
    )
    assert len(hostile) == HOSTILE_MESSAGES and len(expected) >= 10, expected
    events, deadletters = Collector(), Collector()
    stats_path = tmp_path / "run.json"
    began = time.monotonic()
    with BusClient(BusConfig(broker_url), "observer", persistent=False) as observer:
        observer.subscribe(topics.events_filter, events)
        observer.subscribe(topics.deadletter, deadletters)
        run = Instore(
            tmp_path,
            "run",
            "run",
            "--store",
            str(SHOWROOM),
            "--broker",
            broker_url,
            "--until-end",
            "--stats-json",
            str(stats_path),
        )
        run.wait_for("ready")
        with BusClient(BusConfig(broker_url), "replay", persistent=False) as replay:
            mixer = Mixer(replay, hostile, scans)
            report = replay_log(mixer, layout, str(hour), speed=math.inf, window_s=0.0)  # type: ignore[arg-type]
        assert mixer.end_seen_after_all and report.rows > 20_000
        assert run.finish(240) == 0, run.stderr.read_text()[-3000:]
        assert wait_until(
            lambda: len(events) >= len(located) and len(deadletters) >= HOSTILE_MESSAGES, 30
        )
        time.sleep(0.5)  # nothing more may come
    took_s = time.monotonic() - began
    stats = json.loads(stats_path.read_text())[STORE]
    got = [decode_event(p).to_cloudevent() for _t, p in events.snapshot()]
    assert len(located) > 50
    assert got == located, f"{len(got)} events, {len(located)} in the clean run"
    assert Counter(stats["deadletters"]) == expected, (stats["deadletters"], expected)
    on_bus = Counter(decode_deadletter(p)["reason"] for _t, p in deadletters.snapshot())
    assert on_bus == expected
    assert stats["streams_ended"] == 1
    print(f"{HOSTILE_MESSAGES} hostile + {scans} clean messages in {took_s:.1f} s: {expected}")
