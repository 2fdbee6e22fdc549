"""Issue 18, finding 2: a reading inside the 1970..2100 window but far ahead of the
stream's clock (here 2099-01-01, in a stream of 2026) moved the live engine's clock, and every
later valid reading was dropped as late. By hand, one such scan published before replaying a
simulated 10 minutes of demo-fashion through `instore run` gave ``rows_late: 50972``,
``rows_used: 1`` and 0 events (184 without it). Now it is refused as ``time_out_of_range``
(beacons/streamclock.py) and moves nothing."""

from __future__ import annotations

from pathlib import Path

from positioning.layout import load_layout
from presence.services.live import LiveService, StoreEngine
from presence.testing import MemoryBus, wait_until
from presence.transport.payloads import encode_observations
from presence.transport.topics import Topics

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"
T0 = 1_795_392_000.0  # 2026-11-20
YEAR_2099_S = 4_070_908_800.0


def test_one_reading_decades_ahead_does_not_blind_the_engine() -> None:
    layout = load_layout(SHOWROOM)
    t = Topics(layout.name)
    bus = MemoryBus()
    engine = StoreEngine(layout, bus, positions_every_s=0)
    service = LiveService([engine], bus).start()
    try:
        bus.publish(t.obs("d1"), encode_observations("d1", YEAR_2099_S, {"s1": -60.0}))
        for i in range(200):
            scan = encode_observations("good", T0 + i * 0.1, {"s1": -55.0, "s2": -70.0})
            bus.publish(t.obs("good"), scan)
        assert wait_until(lambda: engine.stats.scans >= 200, 30)
    finally:
        service.stop()
    assert engine.engine.stats.get("rows_late", 0) == 0, engine.engine.stats
    assert dict(engine.stats.deadletters) == {"time_out_of_range": 1}
