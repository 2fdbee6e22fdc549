"""The welcome service on the in-memory bus: messages on the device topic, dead letters, resends."""

from __future__ import annotations

import json

from positioning.events import DWELL_START, STORE_ENTER, PresenceEvent
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.testing import Collector, MemoryBus, unique_store
from presence.transport.payloads import decode_deadletter, encode_event
from presence.transport.topics import Topics
from presence.welcome.decider import WelcomeDecider
from presence.welcome.outbox import MESSAGE_SCHEMA
from presence.welcome.policy import PolicyParams
from presence.welcome.service import WelcomeService

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC, 10:00 in Amsterdam
PARAMS = PolicyParams(control_share=0.0)


def test_welcome_service_end_to_end(crm_url: str) -> None:
    store = unique_store()
    topics = Topics(store)
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("p1",), language="nl", grants={"marketing": 0.0})
        add_customer(crm, "C2", ("p2",), grants={"marketing": 0.0})
        add_customer(crm, "C3", ("p3",), grants={"analytics": 0.0})
        # A previous run committed C2's welcome and died before publishing it.
        left = WelcomeDecider(crm, PARAMS).handle(
            PresenceEvent(STORE_ENTER, store, "p2", T0, T0 + 1, 1, 1)
        )
        assert len(left) == 1
        phone, dead = Collector(), Collector()
        bus = MemoryBus()
        for device in ("p1", "p2", "p3"):
            bus.subscribe(topics.message(device), phone)
        bus.subscribe(topics.deadletter, dead)
        service = WelcomeService(bus, crm, store, params=PARAMS, on_dwell=True)
        service.start()
        assert len(phone) == 1  # the left-over one, at start
        for device in ("p1", "p3", "p1"):  # p1 twice: a redelivery
            event = PresenceEvent(STORE_ENTER, store, device, T0 + 60, T0 + 61, 1, 1)
            bus.publish(topics.event(STORE_ENTER), encode_event(event))
        shelf = PresenceEvent(DWELL_START, store, "p1", T0 + 90, T0 + 95, 1, 1, "denim")
        bus.publish(topics.event(DWELL_START), encode_event(shelf))
        bus.publish(topics.event(STORE_ENTER), b'{"specversion": "1.0"}')
        assert service.stats["events"] == 4 and len(dead) == 1
    got = [(t, json.loads(p)) for t, p in phone.snapshot()]
    assert [t for t, _ in got] == [topics.message("p2"), topics.message("p1")]
    message = got[1][1]
    assert message["schema"] == MESSAGE_SCHEMA and message["language"] == "nl"
    assert message["title"] == "Welkom" and "{name}" in message["body"], "the app fills it in"
    # Issue 18, finding 7: nothing on the device's topic names its owner.
    for _topic, raw in phone.snapshot():
        for personal in (b"GivenC", b"FamilyC", b'"C1"', b'"C2"', b"customer"):
            assert personal not in raw
    assert decode_deadletter(dead.snapshot()[0][1])["service"] == "welcome"
    assert service.decider.counts["redelivered"] == 1
    assert service.decider.counts["suppress:already_messaged_this_visit"] == 1
