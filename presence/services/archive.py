"""Parquet archive of the bus for analysts: ``events/`` and ``positions/``, hive-partitioned
``store=<name>/date=<YYYY-MM-DD>/part-*.parquet`` (date of the occurrence, UTC).

Readable by pandas/pyarrow (``pd.read_parquet(DIR + "/events")``), DuckDB
(``read_parquet('DIR/events/**/*.parquet', hive_partitioning=true)``) and Spark. Each
flush writes new part files atomically (tmp + rename), so a reader never sees half a
file and a crash loses at most the rows not yet flushed (the persistent session then
redelivers those the broker had not seen acknowledged... see docs/mqtt.md).
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from beacons.validity import id_problem, time_problem
from positioning.events import PresenceEvent
from presence.transport.bus import Bus
from presence.transport.payloads import (
    PayloadError,
    PositionMessage,
    decode_event,
    decode_position,
)

__all__ = ["archive_from_bus", "ArchiveWriter", "DEDUP_MEMORY", "EVENT_SCHEMA", "POSITION_SCHEMA"]

#: Event ids remembered to drop redeliveries (QoS 1 is at least once).
DEDUP_MEMORY = 200_000

EVENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("device_id", pa.string()),
        ("time_s", pa.float64()),
        ("detected_at_s", pa.float64()),
        ("x_m", pa.float64()),
        ("y_m", pa.float64()),
        ("zone", pa.string()),
        ("duration_s", pa.float64()),
    ]
)
POSITION_SCHEMA = pa.schema(
    [
        ("device_id", pa.string()),
        ("t_s", pa.float64()),
        ("x_m", pa.float64()),
        ("y_m", pa.float64()),
        ("zone", pa.string()),
        ("sigma_m", pa.float64()),
    ]
)


def _date(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%d")


class ArchiveWriter:
    """Buffers rows per (kind, store, date) and writes them as new Parquet parts on flush()."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self.counts = {"events": 0, "positions": 0, "duplicates": 0, "files": 0, "rejected": 0}

    def _rejects(self, store: str, t_s: float) -> bool:
        """Count and refuse a row whose store or time cannot name a partition folder
        (``../..`` in a store would write outside the archive; 1e300 has no date)."""
        if id_problem(store) is None and time_problem(t_s) is None:
            return False
        with self._lock:
            self.counts["rejected"] += 1
        return True

    def add_event(self, e: PresenceEvent) -> None:
        if self._rejects(e.store, e.time_s):
            return
        with self._lock:
            if e.id in self._seen:
                self.counts["duplicates"] += 1
                return
            self._seen.add(e.id)
            self._seen_order.append(e.id)
            if len(self._seen_order) > DEDUP_MEMORY:
                self._seen.discard(self._seen_order.popleft())
            row = {
                "id": e.id,
                "type": e.type,
                "device_id": e.device_id,
                "time_s": e.time_s,
                "detected_at_s": e.detected_at_s,
                "x_m": e.x_m,
                "y_m": e.y_m,
                "zone": e.zone,
                "duration_s": e.duration_s,
            }
            self._rows.setdefault(("events", e.store, _date(e.time_s)), []).append(row)
            self.counts["events"] += 1

    def add_position(self, p: PositionMessage) -> None:
        if self._rejects(p.store, p.t_s):
            return
        row = {
            "device_id": p.device_id,
            "t_s": p.t_s,
            "x_m": p.x_m,
            "y_m": p.y_m,
            "zone": p.zone,
            "sigma_m": p.sigma_m,
        }
        with self._lock:
            self._rows.setdefault(("positions", p.store, _date(p.t_s)), []).append(row)
            self.counts["positions"] += 1

    def flush(self) -> int:
        """Write what is buffered; returns the number of files written."""
        with self._lock:
            rows, self._rows = self._rows, {}
        for (kind, store, date), part in rows.items():
            schema = EVENT_SCHEMA if kind == "events" else POSITION_SCHEMA
            folder = self.root / kind / f"store={store}" / f"date={date}"
            if not folder.resolve().is_relative_to(self.root.resolve()):
                raise ValueError(f"archive folder {folder} is outside {self.root}")  # unreachable
            folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
            tmp = folder / f".{name}.tmp"
            pq.write_table(pa.Table.from_pylist(part, schema=schema), tmp)
            os.replace(tmp, folder / name)
        with self._lock:
            self.counts["files"] += len(rows)
        return len(rows)


def archive_from_bus(
    bus: Bus, writer: ArchiveWriter, events_filter: str, positions_filter: str | None
) -> None:
    """Subscribe ``writer`` to events (and positions, unless None). An unusable message is
    skipped with a line on stderr: the archive keeps what analysts can read, and the
    producing services dead-letter what they could not use."""

    def on_event(topic: str, payload: bytes) -> None:
        try:
            writer.add_event(decode_event(payload))
        except PayloadError as e:
            print(f"instore archive: skipped a message on {topic}: {e}", file=sys.stderr)

    def on_position(topic: str, payload: bytes) -> None:
        try:
            writer.add_position(decode_position(payload))
        except PayloadError as e:
            print(f"instore archive: skipped a message on {topic}: {e}", file=sys.stderr)

    bus.subscribe(events_filter, on_event)
    if positions_filter is not None:
        bus.subscribe(positions_filter, on_position)
