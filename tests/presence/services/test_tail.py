"""instore events' tail on the in-memory bus: each event once, human or JSON, stop after count."""

from __future__ import annotations

import json

from positioning.events import STORE_ENTER, PresenceEvent
from presence.services.tail import EventTail
from presence.testing import MemoryBus
from presence.transport.payloads import encode_event
from presence.transport.topics import ALL_EVENTS_FILTER, Topics

T0 = 1_767_603_600.0


def test_each_event_once_then_done() -> None:
    bus = MemoryBus()
    lines: list[str] = []
    tail = EventTail(as_json=True, count=2, write=lines.append)
    tail.subscribe(bus, ALL_EVENTS_FILTER)
    first = PresenceEvent(STORE_ENTER, "s1", "d1", T0, T0 + 1, 1.0, 2.0)
    second = PresenceEvent(STORE_ENTER, "s2", "d2", T0 + 5, T0 + 6, 1.0, 2.0)
    bus.publish(Topics("s1").event(STORE_ENTER), encode_event(first))
    bus.publish(Topics("s1").event(STORE_ENTER), encode_event(first))  # a redelivery
    bus.publish(Topics("s1").event(STORE_ENTER), b"{broken")
    assert not tail.done.is_set()
    bus.publish(Topics("s2").event(STORE_ENTER), encode_event(second))
    assert tail.done.is_set()
    assert [json.loads(line)["id"] for line in lines] == [first.id, second.id]


def test_human_lines_name_store_type_and_device() -> None:
    lines: list[str] = []
    tail = EventTail(write=lines.append)
    event = PresenceEvent(STORE_ENTER, "s1", "d1", T0, T0 + 1, 1.0, 2.0)
    tail.on_message("t", encode_event(event))
    (line,) = lines
    assert "s1" in line and "store.enter" in line and "d1" in line and "(1.0, 2.0) m" in line
