"""Recorded MQTT message logs are read as recorded and published with their original pacing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence.cli import main
from presence.services.messagelog import (
    RecordedMessage,
    RejectedLines,
    read_message_log,
    replay_messages,
)
from presence.testing import Collector, MemoryBus, unique_store, wait_until
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import END_OF_STREAM, decode_control
from presence.transport.topics import Topics

CAPTURE = (
    Path(__file__).resolve().parents[3]
    / "examples"
    / "recordings"
    / "espresense-stationary"
    / "messages.jsonl"
)


def write_log(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


class FlagBus(MemoryBus):
    """The memory bus, also keeping each message's QoS and retain flag (a boundary fake)."""

    def __init__(self) -> None:
        super().__init__()
        self.flags: list[tuple[str, int, bool]] = []

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        self.flags.append((topic, qos, retain))
        super().publish(topic, payload, qos=qos, retain=retain)


class FakeClock:
    """Monotonic time that only sleep moves on; ``sleeps`` keeps each sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_the_espresense_capture_reads_whole_and_byte_exact() -> None:
    rejected = RejectedLines()
    messages = list(read_message_log(CAPTURE, rejected))
    assert rejected.counts == {}
    assert len(messages) == 1693
    assert len({m.topic for m in messages}) == 10  # one device heard by 10 nodes
    first = json.loads(CAPTURE.read_text().splitlines()[0])
    assert messages[0].payload == first["payload"].encode()
    assert messages[0].t_s == pytest.approx(1701132479.913652)
    assert all(m.qos == 0 and not m.retain for m in messages)


def test_mosquitto_sub_lines_read_with_tst_and_json_payloads(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "m.jsonl",
        [
            # mosquitto_sub -F %J: a JSON payload printed as an object; time as tst only
            {"tst": "2023-11-27T19:47:59.5-0500", "topic": "a/b", "payload": {"rssi": -70}},
            {"tst": "2023-11-28T00:48:00.000+00:00", "topic": "a/c", "payload": "x", "qos": 1},
        ],
    )
    rejected = RejectedLines()
    one, two = read_message_log(log, rejected)
    assert one == RecordedMessage(1, 1701132479.5, "a/b", b'{"rssi":-70}', 0, False)
    assert (two.t_s, two.payload, two.qos) == (1701132480.0, b"x", 1)
    assert rejected.counts == {}


def test_unusable_lines_are_counted_with_their_first_line(tmp_path: Path) -> None:
    good = {"t": 1.0, "topic": "a/b", "payload": "p"}
    log = write_log(
        tmp_path / "m.jsonl",
        [
            good,
            "{not json",
            "",  # blank lines are not messages: skipped silently
            [1, 2],
            {"t": 2.0, "topic": "a/+", "payload": "p"},
            {"t": 2.0, "topic": "a/b"},
            {"topic": "a/b", "payload": "p"},
            {"tst": "2023-11-28T00:48:00", "topic": "a/b", "payload": "p"},  # no offset
            {"t": "soon", "topic": "a/b", "payload": "p"},
            {"t": 3.0, "topic": "a/b", "payload": "p", "qos": 3},
            {"t": 3.0, "topic": "a/b", "payload": "p", "retain": "yes"},
            "{not json either",
            good,
        ],
    )
    rejected = RejectedLines()
    assert [m.line for m in read_message_log(log, rejected)] == [1, 13]
    assert rejected.counts == {
        "bad_json": 2,
        "not_an_object": 1,
        "bad_topic": 1,
        "no_payload": 1,
        "no_time": 1,
        "bad_time": 2,
        "bad_qos": 1,
        "bad_retain": 1,
    }
    assert rejected.first_line["bad_json"] == 2 and rejected.first_line["bad_time"] == 8
    assert "2 bad_json (first at line 2)" in rejected.describe()


def test_replay_keeps_the_recorded_pacing_order_and_flags(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "m.jsonl",
        [
            {"t": 100.0, "topic": "s/1", "payload": "a", "qos": 1, "retain": 1},
            {"t": 101.0, "topic": "s/2", "payload": "b"},
            {"t": 100.5, "topic": "s/1", "payload": "c"},  # the log's time went back
            {"t": 104.0, "topic": "s/3", "payload": "d"},
        ],
    )
    clock, bus = FakeClock(), FlagBus()
    report = replay_messages(bus, log, speed=2.0, clock=clock, sleep=clock.sleep)
    assert bus.published == [("s/1", b"a"), ("s/2", b"b"), ("s/1", b"c"), ("s/3", b"d")]
    # Message i leaves at start + (t_i - t_0) / speed: 0.5 s, then none (late), then 1.5 s.
    assert clock.sleeps == pytest.approx([0.5, 1.5])
    assert (report.messages, report.topics, report.elapsed_s) == (4, 3, pytest.approx(2.0))
    assert bus.flags[0] == ("s/1", 1, False)  # retain dropped by default
    kept = FlagBus()
    replay_messages(kept, log, speed=float("inf"), keep_retain=True, sleep=clock.sleep)
    assert kept.flags[0] == ("s/1", 1, True)
    assert len(clock.sleeps) == 2  # speed max never sleeps


@pytest.mark.broker
def test_replay_command_publishes_a_message_log_then_the_end_of_stream(
    mqtt_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = unique_store("msglog")
    layout = tmp_path / "s.toml"
    layout.write_text(
        f'[store]\nname = "{store}"\nwidth = 5.0\nheight = 5.0\n\n'
        '[[beacons]]\nid = "b1"\nx = 1.0\ny = 1.0\ntx_power = -59\n'
    )
    topic = f"espresense/devices/iBeacon:test-{store}/kitchen"
    log = write_log(
        tmp_path / "m.jsonl",
        [
            {"t": 10.0, "topic": topic, "payload": '{"rssi":-70}', "qos": 1},
            {"t": 10.4, "topic": topic, "payload": '{"rssi":-71}', "qos": 1},
            "broken",
            {"t": 10.8, "topic": topic, "payload": '{"rssi":-72}', "qos": 1},
        ],
    )
    got = Collector()
    with BusClient(BusConfig(mqtt_url), "watch", persistent=False) as watch:
        watch.subscribe(topic, got)
        watch.subscribe(Topics(store).control, got)
        args = ["replay", "--messages", str(log), "--store", str(layout), "--speed", "2"]
        assert main([*args, "--broker", mqtt_url, "--quiet"]) == 0
        assert wait_until(lambda: len(got) >= 4, 10)
    (t1, p1), (_t2, p2), (_t3, p3), (t4, p4) = got.snapshot()
    assert (t1, p1, p2, p3) == (topic, b'{"rssi":-70}', b'{"rssi":-71}', b'{"rssi":-72}')
    assert t4 == Topics(store).control and decode_control(p4)[0] == END_OF_STREAM
    out = capsys.readouterr().out
    assert "3 messages on 1 topics (0.8 s recorded)" in out
    assert "1 bad_json (first at line 3)" in out
    # Paced: 0.8 s recorded at 2x takes at least 0.4 s.
    elapsed = float(out.split(" in ")[1].split(" s;")[0])
    assert elapsed >= 0.38


def test_replay_command_refuses_what_cannot_work(tmp_path: Path) -> None:
    empty = write_log(tmp_path / "m.jsonl", ["nonsense"])
    assert main(["replay", "--messages", str(tmp_path / "none.jsonl")]) == 2
    assert main(["replay", "--observations", str(empty)]) == 2  # needs --store
    with pytest.raises(SystemExit):  # one source only
        main(["replay", "--messages", str(empty), "--observations", str(empty)])


@given(
    st.lists(st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode)), max_size=8)
)
@settings(deadline=None, max_examples=150)
def test_any_file_reads_without_raising_and_every_line_is_accounted_for(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.jsonl"
        path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
        rejected = RejectedLines()
        read = list(read_message_log(path, rejected))
        non_blank = sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
        assert len(read) + sum(rejected.counts.values()) == non_blank
