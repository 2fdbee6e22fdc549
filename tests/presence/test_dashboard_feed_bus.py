"""The dashboard feed on the in-memory bus: it subscribes to the store's events, positions and
staff alerts, and to nothing of another store."""

from __future__ import annotations

from positioning.events import STORE_ENTER, PresenceEvent
from presence.dashboard import feed as feed_module
from presence.dashboard.feed import BusFeed
from presence.dashboard.state import DashboardState
from presence.testing import MemoryBus
from presence.transport.payloads import PositionMessage, encode_event, encode_position
from presence.transport.topics import Topics

T0 = 1_795_435_200.0


def test_feed_subscribes_the_store_topics_only() -> None:
    hub = feed_module.DashboardHub(DashboardState(30.0, 20.0, ("shoes",)))
    bus = MemoryBus()
    BusFeed(hub).subscribe(bus, Topics("demo-fashion"))
    enter = PresenceEvent(STORE_ENTER, "demo-fashion", "d1", T0, T0 + 1, 15.0, 1.0)
    bus.publish(Topics("demo-fashion").event(STORE_ENTER), encode_event(enter))
    at_shoes = PositionMessage("demo-fashion", "d1", T0 + 2, 3.0, 4.0, "shoes", 1.0)
    bus.publish(Topics("demo-fashion").position("d1"), encode_position(at_shoes))
    other = PresenceEvent(STORE_ENTER, "elsewhere", "d2", T0, T0 + 1, 15.0, 1.0)
    bus.publish(Topics("elsewhere").event(STORE_ENTER), encode_event(other))
    (d1,) = hub.snapshot()["shoppers"]
    assert (d1["zone"], d1["x"]) == ("shoes", 3.0)
    assert bus.stats["unhandled"] == 1 and bus.stats["handler_errors"] == 0
