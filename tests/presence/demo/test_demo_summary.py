"""The demo summary counts what went over the bus and into the CRM, and catches violations.

The bus is the boundary faked here: the recorder's handlers get (topic, payload) pairs
exactly as the bus client would hand them over, on a fake clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from positioning.events import STORE_ENTER, ZONE_ENTER, PresenceEvent
from presence.crm import seed
from presence.crm.schema import decisions, outbox
from presence.crm.store import CrmStore
from presence.demo.summary import BusRecorder, summarize
from presence.transport.payloads import encode_event, encode_observations
from presence.transport.topics import Topics
from presence.welcome.outbox import OutboxMessage, message_id

T0 = 1_795_435_200.0  # 2026-11-23 12:00 UTC
STORE = "demo-fashion"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def crm(tmp_path: Path) -> CrmStore:
    store = CrmStore(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    data = seed.generate(
        seed.SeedConfig(customers=2, seed=3, as_of_s=T0 - 86_400, device_ids=("dA", "dB"))
    )
    seed.write(store, data, replace=True)
    a, b = store.customer_for_device("dA"), store.customer_for_device("dB")
    assert a is not None and b is not None
    for purpose in ("marketing", "personalization"):
        store.record_consent(a, purpose, True, T0 - 3600)
        store.record_consent(b, purpose, False, T0 - 3600)
    return store


def message(customer: str, enter: PresenceEvent, kind: str, decided_s: float) -> OutboxMessage:
    return OutboxMessage(
        message_id(customer, enter.id, kind),
        customer,
        enter.id,
        kind,
        STORE,
        enter.device_id,
        "generic",
        "en",
        "Hi",
        "Welcome",
        enter.time_s,
        decided_s,
    )


def record_outbox(crm: CrmStore, m: OutboxMessage) -> None:
    with crm.begin() as conn:
        row = {
            k: getattr(m, k)
            for k in (
                "message_id",
                "customer_id",
                "visit_id",
                "kind",
                "store",
                "device_id",
                "template",
                "language",
                "title",
                "body",
                "event_time_s",
                "decided_s",
            )
        }
        conn.execute(
            outbox.insert().values(
                **row,
                channel="app",
                reason="generic",
                status="sent",
                created_wall_s=1.0,
                sent_wall_s=2.0,
            )
        )


def record_decision(crm: CrmStore, n: int, outcome: str, reason: str) -> None:
    with crm.begin() as conn:
        conn.execute(
            decisions.insert().values(
                event_id=f"e{n}",
                trigger="store.enter",
                store=STORE,
                device_id="dB",
                decided_s=T0,
                outcome=outcome,
                reason=reason,
                recorded_wall_s=1.0,
            )
        )


def test_summary_counts_distinct_things_and_flags_every_violation(crm: CrmStore) -> None:
    topics = Topics(STORE)
    clock = FakeClock()
    rec = BusRecorder(topics, clock)
    h = rec.handlers()
    on_event, on_alert, on_msg, on_scan = (
        h[f]
        for f in (
            topics.events_filter,
            topics.staff_alerts,
            topics.messages_filter,
            topics.obs_filter,
        )
    )

    enter_a = PresenceEvent(STORE_ENTER, STORE, "dA", T0 + 2.0, T0 + 5.0, 15.0, 1.0)
    enter_b = PresenceEvent(STORE_ENTER, STORE, "dB", T0 + 3.0, T0 + 6.0, 15.0, 1.0)
    zone_a = PresenceEvent(ZONE_ENTER, STORE, "dA", T0 + 9.0, T0 + 11.0, 3.0, 3.0, "shoes")
    on_scan(
        topics.obs("dA"),
        encode_observations("dA", T0 + 4.4, {"b01": -60.0, "b02": -70.0}, {"b01": 0.0, "b02": 0.6}),
    )  # arrives at wall 100.0
    clock.now = 100.4
    for event in (enter_a, enter_a, enter_b, zone_a):  # enter_a redelivered
        on_event(topics.event(event.type), encode_event(event))

    a, b = crm.customer_for_device("dA"), crm.customer_for_device("dB")
    assert a is not None and b is not None
    first = message(a, enter_a, "welcome", T0 + 5.0)
    second = message(a, enter_a, "second", T0 + 7.0)  # a second message in one visit
    to_b = message(b, enter_b, "welcome", T0 + 6.0)  # no marketing consent
    for m in (first, second, to_b):
        record_outbox(crm, m)
    clock.now = 101.0
    for m in (first, first, second, to_b):  # first redelivered
        on_msg(topics.message(m.device_id), _json(m.payload()))

    on_alert(topics.staff_alerts, _json({"device": "dA", "t": T0 + 5.0, "card": {"name": "A"}}))
    on_alert(topics.staff_alerts, _json({"device": "dB", "t": T0 + 6.0, "card": {"name": "B"}}))
    for n, (outcome, reason) in enumerate(
        [
            ("suppress", "no_marketing_consent"),
            ("suppress", "no_marketing_consent"),
            ("control", "control_group"),
            ("send", "generic"),
        ]
    ):
        record_decision(crm, n, outcome, reason)

    s = summarize(rec, crm, true_entries={"dA": [T0 + 1.0, T0 - 4000.0]})
    assert s["visits"] == 2
    assert s["events"] == {STORE_ENTER: 2, ZONE_ENTER: 1}
    assert (s["welcomes_sent"], s["welcome_deliveries_on_bus"]) == (3, 4)
    assert s["welcomes_suppressed"] == {"control_group": 1, "no_marketing_consent": 2}
    assert s["max_welcomes_per_visit"] == 2
    assert s["welcomes_without_marketing_consent"] == 1
    assert (s["staff_alerts"], s["alerts_without_personalization_consent"]) == (2, 1)
    lat = s["welcome_latency_s"]
    # dA: detected 4 s after the true entry (T0+1), message 1.0 s after the scan at detected_at.
    assert lat["detection_s"]["p50"] == pytest.approx(4.0)
    assert lat["pipeline_s"]["p50"] == pytest.approx(1.0)
    assert lat["n"] == 2, (
        "both of dA's messages; dB's entry (detected at T0+6) has no scan at or after it"
    )


def test_an_empty_run_gives_an_empty_summary(crm: CrmStore) -> None:
    s = summarize(BusRecorder(Topics(STORE)), crm)
    assert (s["visits"], s["welcomes_sent"], s["max_welcomes_per_visit"], s["staff_alerts"]) == (
        0,
        0,
        0,
        0,
    )
    assert s["welcome_latency_s"]["p50"] is None


def _json(obj: object) -> bytes:
    import json

    return json.dumps(obj).encode()
