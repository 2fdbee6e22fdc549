"""The CRM lookup service on the in-memory bus: staff alerts only for personalization consent."""

from __future__ import annotations

import json

from positioning.events import STORE_ENTER, ZONE_ENTER, PresenceEvent
from presence.crm.schema import orders, staff_devices
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.services.staff import ALERT_SCHEMA, StaffLookupService, alerts_for
from presence.testing import MemoryBus, unique_store
from presence.transport.payloads import decode_deadletter, encode_event
from presence.transport.topics import Topics

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC


def enter(store: str, device: str, t: float = T0) -> PresenceEvent:
    return PresenceEvent(STORE_ENTER, store, device, t, t + 1.0, 15.0, 0.5)


def test_alerts_only_for_personalization_consent(crm_url: str) -> None:
    store = unique_store()
    topics = Topics(store)
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("p1",), grants={"personalization": 0.0})
        add_customer(crm, "C2", ("p2",), grants={"marketing": 0.0, "analytics": 0.0})
        add_customer(crm, "C3", ("p3",), grants={"personalization": T0 + 3600})  # later
        with crm.begin() as conn:
            conn.execute(staff_devices.insert().values(device_id="st1", label="staff"))
            conn.execute(
                orders.insert().values(
                    order_id="O1",
                    customer_id="C1",
                    status="ready",
                    pickup_store=store,
                    pickup_point="service desk",
                    placed_s=T0 - 86400,
                    ready_s=T0 - 3600,
                    item_count=2,
                )
            )
        bus = MemoryBus()
        service = StaffLookupService(bus, crm, store)
        service.start()
        for device in ("p1", "p2", "p3", "st1", "nobody", "p1"):  # p1 twice: a redelivery
            bus.publish(topics.event(STORE_ENTER), encode_event(enter(store, device)))
        # p1 detected entering again a minute later (lingering at the door): one arrival.
        bus.publish(topics.event(STORE_ENTER), encode_event(enter(store, "p1", T0 + 60)))
        zone = PresenceEvent(ZONE_ENTER, store, "p1", T0 + 5, T0 + 6, 1.0, 1.0, "denim")
        bus.publish(topics.event(ZONE_ENTER), encode_event(zone))  # not subscribed: ignored
        bus.publish(topics.event(STORE_ENTER), b"{not json")
    assert service.stats["events"] == 6 and service.stats["deadletter:bad_json"] == 1
    got = [json.loads(p) for p in bus.payloads(topics.staff_alerts)]
    assert len(got) == 1
    alert = got[0]
    assert alert["schema"] == ALERT_SCHEMA and alert["device"] == "p1" and alert["t"] == T0
    assert alert["card"]["customer_id"] == "C1"
    assert alert["alerts"] == ["click & collect order O1 ready at the service desk"]
    (letter,) = bus.payloads(topics.deadletter)
    assert decode_deadletter(letter)["reason"] == "bad_json"
    # Personal data only on the staff topic: no other message names a customer.
    for topic, payload in bus.published:
        if topic != topics.staff_alerts:
            assert b"C1" not in payload and b"GivenC1" not in payload, topic
    assert service.stats["staff_device"] == 1 and service.stats["no_card"] == 3
    assert service.stats["repeat"] == 1


def test_alert_lines() -> None:
    card = {
        "loyalty_tier": "platinum",
        "birthday": "01-03",
        "orders_ready": [{"order_id": "O9", "pickup_point": "pickup locker"}],
    }
    assert alerts_for(card, T0) == [
        "click & collect order O9 ready at the pickup locker",
        "platinum member",
        "birthday this week",
    ]
    assert alerts_for({"loyalty_tier": "basic", "birthday": "02-29"}, T0) == []
