"""MemoryBus, the in-memory bus services are tested on: broker topic matching, dead letters
written once (subscribe_decoded), handler failures counted and never passed on."""

from __future__ import annotations

import pytest

from presence.testing import Collector, MemoryBus
from presence.transport.bus import DeadLetters, subscribe_decoded
from presence.transport.payloads import PayloadError, decode_deadletter


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("instore/v1/s/obs/+", "instore/v1/s/obs/d1", True),
        ("instore/v1/s/obs/+", "instore/v1/s/obs/d1/x", False),
        ("instore/v1/+/events/#", "instore/v1/s/events/store/enter", True),
        ("instore/v1/+/events/#", "instore/v1/s/positions/d1", False),
        ("instore/v1/s/#", "instore/v1/s", True),  # '#' includes the parent level
        ("#", "$SYS/broker/uptime", False),  # wildcards never match $-topics
    ],
)
def test_topic_filters_match_as_on_a_broker(topic_filter: str, topic: str, matches: bool) -> None:
    bus = MemoryBus()
    got = Collector()
    bus.subscribe(topic_filter, got)
    bus.publish(topic, b"x")
    assert len(got) == int(matches)
    assert bus.payloads(topic_filter) == ([b"x"] if matches else [])


def test_delivery_in_order_to_every_matching_handler_and_batches() -> None:
    bus = MemoryBus()
    one, all_, batches = Collector(), Collector(), []
    bus.subscribe("a/+", one)
    bus.subscribe("a/#", all_)
    bus.subscribe_batch("a/#", batches.append)
    for i in range(3):
        bus.publish(f"a/{i}", str(i).encode())
    bus.publish("b/0", b"nobody")
    assert one.snapshot() == all_.snapshot() == [("a/0", b"0"), ("a/1", b"1"), ("a/2", b"2")]
    assert batches == [[m] for m in one.snapshot()]
    assert bus.stats["unhandled"] == 1 and bus.stats["published"] == 4
    assert bus.wait_published() and bus.connected


def test_a_failing_handler_is_counted_and_the_others_still_run() -> None:
    bus = MemoryBus()
    got = Collector()

    def broken(_topic: str, _payload: bytes) -> None:
        raise RuntimeError("bug")

    bus.subscribe("t", broken)
    bus.subscribe("t", got)
    bus.publish("t", b"x")  # does not raise
    assert bus.stats["handler_errors"] == 1 and len(got) == 1


def test_decoded_subscription_dead_letters_and_counts_once() -> None:
    bus = MemoryBus()
    dead = DeadLetters(bus, "s/deadletter", "svc", clock=lambda: 12.5, prefix="deadletter:")
    values: list[tuple[str, int]] = []

    def decode(_topic: str, payload: bytes) -> int:
        if not payload.isdigit():
            raise PayloadError("bad_json", f"not a number: {payload[:10]!r}")
        return int(payload)

    subscribe_decoded(bus, "s/in/+", decode, lambda t, v: values.append((t, v)), dead)
    for payload in (b"1", b"x", b"22", b"y"):
        bus.publish("s/in/d", payload)
    assert values == [("s/in/d", 1), ("s/in/d", 22)]
    assert dead.counts == {"deadletter:bad_json": 2}
    letters = [decode_deadletter(p) for p in bus.payloads("s/deadletter")]
    assert [d["payload_excerpt"] for d in letters] == ["x", "y"]
    assert {(d["service"], d["topic"], d["received_at"]) for d in letters} == {
        ("svc", "s/in/d", 12.5)
    }
