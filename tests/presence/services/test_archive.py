"""Archive: events and positions to Parquet partitioned store=/date=, deduplicated by id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from positioning.events import STORE_ENTER, ZONE_EXIT, PresenceEvent
from presence.services.archive import ArchiveWriter, archive_from_bus
from presence.testing import Instore, MemoryBus, unique_store, wait_until
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import PositionMessage, encode_event, encode_position
from presence.transport.topics import ALL_EVENTS_FILTER, Topics

T0 = 1_795_392_000.0  # 2026-11-23T00:00:00Z


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    Instore.kill_all()


def _events(store: str) -> list[PresenceEvent]:
    return [
        PresenceEvent(STORE_ENTER, store, "d1", T0 - 10.0, T0 - 8.0, 1.0, 2.0),
        PresenceEvent(ZONE_EXIT, store, "d1", T0 + 5.0, T0 + 7.0, 1.0, 2.0, "shoes", 3.0),
    ]


def test_writer_partitions_by_store_and_date_and_drops_redeliveries(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path)
    for e in _events("a") + _events("a") + _events("b"):
        w.add_event(e)
    w.add_position(PositionMessage("a", "d1", T0 + 1, 1.0, 2.0, "", 0.5))
    assert w.flush() == 5
    assert w.counts["duplicates"] == 2
    parts = sorted(str(p.relative_to(tmp_path).parent) for p in tmp_path.rglob("*.parquet"))
    assert parts == [
        "events/store=a/date=2026-11-22",
        "events/store=a/date=2026-11-23",
        "events/store=b/date=2026-11-22",
        "events/store=b/date=2026-11-23",
        "positions/store=a/date=2026-11-23",
    ]
    events = pd.read_parquet(tmp_path / "events")
    assert len(events) == 4 and set(events["store"].astype(str)) == {"a", "b"}
    assert events.loc[events["type"] == ZONE_EXIT, "duration_s"].tolist() == [3.0, 3.0]
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("store", ["../../..", "a/../../b", "x\x00y", "ok"])
def test_no_row_writes_outside_the_archive(tmp_path: Path, store: str) -> None:
    root = tmp_path / "deep" / "archive"
    w = ArchiveWriter(root)
    for e in _events(store):
        w.add_event(e)
    w.add_position(PositionMessage(store, "d1", T0 + 1, 1.0, 2.0, "", 0.5))
    w.add_position(PositionMessage("ok2", "d1", 1e300, 1.0, 2.0, "", 0.5))  # no date: refused
    w.flush()
    written = list(tmp_path.rglob("*.parquet"))
    assert all(p.is_relative_to(root) for p in written)
    valid = store == "ok"
    assert w.counts["rejected"] == (1 if valid else 4)
    assert len(written) == (3 if valid else 0)


@pytest.mark.broker
@pytest.mark.slow
def test_archive_command_writes_what_the_bus_carries(mqtt_url: str, tmp_path: Path) -> None:
    store = unique_store()
    t = Topics(store)
    out = tmp_path / "archive"
    proc = Instore(
        tmp_path,
        "archive",
        "archive",
        "--broker",
        mqtt_url,
        "-o",
        str(out),
        "--store",
        store,
        "--flush-every",
        "0.5",
        "--client-id",
        f"arch-{store}",
    )
    proc.wait_for("writing to", 60)
    with BusClient(BusConfig(mqtt_url), "run", persistent=False) as bus:
        for e in _events(store) * 2:  # each event twice: archived once
            bus.publish(t.event(e.type), encode_event(e))
        bus.publish(
            t.position("d1"), encode_position(PositionMessage(store, "d1", T0, 1.0, 2.0, "", 0.5))
        )
        bus.publish(t.event(STORE_ENTER), b"not json")
        assert bus.wait_published(10)
    assert wait_until(
        lambda: (
            (out / "positions").exists() and len(list((out / "events").rglob("*.parquet"))) >= 2
        ),
        30,
    )
    proc.proc.terminate()
    assert proc.finish(30) == 0
    events = pd.read_parquet(out / "events")
    assert sorted(events["id"]) == sorted(e.id for e in _events(store))
    assert len(pd.read_parquet(out / "positions")) == 1
    assert "skipped a message" in proc.stderr.read_text()
    # On exit the chain report's daily table is brought up to date (issue 20).
    assert re.search(r"daily table refreshed \([1-9]\d* store-days\)", proc.stderr.read_text())
    assert list((out / "daily").rglob(f"store={store}/*/*.parquet"))


def test_archive_from_the_memory_bus_keeps_events_and_skips_the_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bus = MemoryBus()
    writer = ArchiveWriter(tmp_path / "arch")
    archive_from_bus(bus, writer, ALL_EVENTS_FILTER, None)
    topics = Topics("s1")
    event = PresenceEvent(STORE_ENTER, "s1", "d1", 1_767_603_600.0, 1_767_603_601.0, 1.0, 2.0)
    bus.publish(topics.event(STORE_ENTER), encode_event(event))
    bus.publish(topics.event(STORE_ENTER), encode_event(event))  # a redelivery
    bus.publish(topics.event(STORE_ENTER), b"{broken")
    bus.publish(topics.position("d1"), b"not subscribed")
    assert writer.counts["events"] == 1 and writer.counts["duplicates"] == 1
    assert "skipped a message on instore/v1/s1/events/" in capsys.readouterr().err
    assert writer.flush() == 1
    assert len(list((tmp_path / "arch" / "events" / "store=s1").rglob("*.parquet"))) == 1
