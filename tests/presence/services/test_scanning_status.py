"""A scanner's retained status: published on a change of adapter state, at its first
advertisement and every STATUS_EVERY_S, on status/scan-<device>."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from beacons.fakeradio import AdapterOutage, FakeAdvertisement, FakeRadioEvent
from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from beacons.scanner import RetryPolicy
from positioning.layout import load_layout
from presence.services.scanning import (
    STATUS_EVERY_S,
    ScannerOptions,
    StatusReporter,
    consume,
    make_source,
)
from presence.testing import MemoryBus
from presence.transport.payloads import decode_status
from presence.transport.topics import Topics

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def write_script(path: Path, events: list[FakeRadioEvent]) -> str:
    import json

    lines = []
    for e in events:
        if isinstance(e, AdapterOutage):
            lines.append(json.dumps({"adapter_outage": e.failed_starts}))
        else:
            lines.append(
                json.dumps({"dt_s": e.delay_s, "payload": e.payload.hex(), "rssi": e.rssi_dbm})
            )
    path.write_text("\n".join(lines) + "\n")
    return str(path)


class RetainingBus(MemoryBus):
    """A MemoryBus that also notes which topics were published retained."""

    def __init__(self) -> None:
        super().__init__()
        self.retained: list[tuple[str, bool]] = []

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, **kw: object) -> None:  # type: ignore[override]
        self.retained.append((topic, retain))
        super().publish(topic, payload, retain=retain, **kw)  # type: ignore[arg-type]


def ad(minor: int) -> FakeAdvertisement:
    return FakeAdvertisement(0.01, encode_payload(IBeacon(UUID, 2, minor, -59)), -60)


def test_status_follows_the_adapter(tmp_path: Path, showroom_path: Path) -> None:
    layout = load_layout(showroom_path)
    script = write_script(tmp_path / "r.jsonl", [ad(1), ad(2), AdapterOutage(2), ad(3), ad(4)])
    retry = RetryPolicy(initial_s=0.05, max_s=0.05, silence_restart_s=0.2)
    source = make_source(ScannerOptions("phone", fake_advertisements=script, retry=retry), layout)
    bus = RetainingBus()
    wall = itertools.count(step=0.001)
    reporter = StatusReporter(bus, layout.name, source, client_id="cid", wall=lambda: next(wall))
    topic = Topics(layout.name).status("scan-phone")
    asyncio.run(consume(source, lambda obs: None, 10.0, tick=reporter.tick))
    sent = [decode_status(p) for t, p in bus.published if t == topic]
    adapters = [s["scanner"]["adapter"] for s in sent]
    assert adapters[0] == "scanning" and "lost" in adapters and adapters[-1] == "scanning"
    assert all(s["service"] == "scan-phone" and s["client_id"] == "cid" for s in sent)
    assert any(s["scanner"]["last_heard"] is not None for s in sent), "first advertisement told"
    lost = next(s["scanner"] for s in sent if s["scanner"]["adapter"] == "lost")
    assert lost["since"] == lost["last_heard"] and "not found" in lost["problem"]
    assert all(retain for t, retain in bus.retained if t == topic)


def test_status_is_repeated_every_period(tmp_path: Path, showroom_path: Path) -> None:
    layout = load_layout(showroom_path)
    script = write_script(tmp_path / "r.jsonl", [ad(1)])
    source = make_source(ScannerOptions("phone", fake_advertisements=script), layout)
    bus = MemoryBus()
    now = [0.0]
    reporter = StatusReporter(bus, layout.name, source, client_id="cid", wall=lambda: now[0])
    reporter.tick()
    assert bus.published == [], "nothing to say before the first start"
    asyncio.run(consume(source, lambda obs: None, 5.0, tick=reporter.tick))
    n = len(bus.published)
    reporter.tick()
    assert len(bus.published) == n, "no change, no period elapsed"
    now[0] += STATUS_EVERY_S
    reporter.tick()
    assert len(bus.published) == n + 1
