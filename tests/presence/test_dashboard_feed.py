"""Bus messages and CRM decisions reach the dashboard state; bad messages are counted, not fatal."""

from __future__ import annotations

from pathlib import Path

from positioning.events import STORE_ENTER, PresenceEvent
from presence.crm.schema import decisions
from presence.crm.store import CrmStore
from presence.dashboard.feed import BusFeed, DecisionPoller
from presence.dashboard.hub import DashboardHub
from presence.dashboard.state import DashboardState
from presence.transport.payloads import PositionMessage, encode_event, encode_position

T0 = 1_795_435_200.0


def hub() -> DashboardHub:
    return DashboardHub(DashboardState(30.0, 20.0, ("shoes",)))


def test_events_positions_and_alerts_update_the_state_and_garbage_is_counted() -> None:
    h = hub()
    feed = BusFeed(h, store="demo-fashion")
    enter = PresenceEvent(STORE_ENTER, "demo-fashion", "d1", T0, T0 + 1, 15.0, 1.0)
    feed.on_event()("t", encode_event(enter))
    feed.on_position()(
        "t", encode_position(PositionMessage("demo-fashion", "d1", T0 + 2, 3.0, 4.0, "shoes", 1.0))
    )
    feed.on_staff_alert()(
        "t",
        b'{"device": "d1", "t": 1795435203.0, "card": {"name": "Ada Lovelace"}, "alerts": ["vip"]}',
    )
    for bad in (b"{", b'{"schema": "instore.position/9"}', b"[]", b'{"device": "d1"}'):
        feed.on_event()("t", bad)
        feed.on_position()("t", bad)
        feed.on_staff_alert()("t", bad)
    elsewhere = b'{"store": "other", "device": "d1", "t": 1795435204.0, "card": {"name": "Eve"}}'
    flood = b'{"device": "d1", "t": 1795435204.0, "card": {"name": "Eve"}, "alerts": ["x"'
    feed.on_staff_alert()("t", elsewhere)
    feed.on_staff_alert()("t", flood + b', "x"' * 20 + b"]}")
    snap = h.snapshot()
    (d1,) = snap["shoppers"]
    assert (d1["label"], d1["zone"], d1["alerts"], d1["x"]) == (
        "Ada Lovelace",
        "shoes",
        ["vip"],
        3.0,
    )
    assert sum(feed.rejected.values()) == 14
    assert feed.rejected["wrong_store"] == 1 and feed.rejected["too_long"] == 1
    assert feed.rejected["bad_json"] == 3


def test_decision_poller_reads_new_decisions_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    crm = CrmStore(url)

    def decide(n: int, outcome: str, reason: str, template: str | None) -> None:
        with crm.begin() as conn:
            conn.execute(
                decisions.insert().values(
                    event_id=f"e{n}", trigger="store.enter", store="demo-fashion", device_id=f"d{n}",
                    decided_s=T0 + n, outcome=outcome, reason=reason, template=template, recorded_wall_s=1.0,
                    final_outcome="sent" if outcome == "send" else None,  # the outbox delivered it
                )
            )  # fmt: skip

    h = hub()
    poller = DecisionPoller(h, url, store="demo-fashion")
    decide(1, "send", "order_ready", "order_ready")
    decide(2, "suppress", "no_marketing_consent", None)
    assert poller.poll_once() == 2
    decide(3, "control", "control_group", None)
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0
    snap = h.snapshot()
    assert (snap["welcomes_sent"], snap["welcomes_suppressed"]) == (1, 2)
    assert [w["reason"] for w in snap["welcome_log"]] == [
        "control group",
        "no_marketing_consent",
        "order_ready",
    ]
    poller.stop()
    crm.close()
