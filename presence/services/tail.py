"""Tailing presence events from the bus (``instore events``): each event printed once, for
people (a line each) or machines (CloudEvents JSON lines)."""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Callable

from positioning.events import PresenceEvent, format_time
from presence.transport.bus import Bus
from presence.transport.payloads import PayloadError, decode_event

__all__ = ["DEDUP_MEMORY", "EventTail", "human"]

#: Event ids remembered to drop redeliveries.
DEDUP_MEMORY = 100_000


def human(event: PresenceEvent) -> str:
    """One line for people: time, store, type, device, zone, duration, position."""
    where = f" {event.zone}" if event.zone else ""
    took = f" after {event.duration_s:.0f} s" if event.duration_s is not None else ""
    return (
        f"{format_time(event.time_s)}  {event.store:<16} {event.type.removeprefix('instore.'):<12}"
        f" {event.device_id}{where}{took}  ({event.x_m:.1f}, {event.y_m:.1f}) m"
    )


class EventTail:
    """A bus handler printing each event once (redeliveries are dropped by id); ``done`` is
    set after ``count`` events. Unusable messages are reported on stderr and skipped (the
    producing service dead-letters; a viewer only says so)."""

    def __init__(
        self,
        *,
        as_json: bool = False,
        count: int | None = None,
        write: Callable[[str], None] = lambda line: print(line, flush=True),
    ) -> None:
        self.as_json = as_json
        self.count = count
        self.write = write
        self.printed = 0
        self.done = threading.Event()
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._lock = threading.Lock()

    def subscribe(self, bus: Bus, topic_filter: str) -> None:
        bus.subscribe(topic_filter, self.on_message)

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            event = decode_event(payload)
        except PayloadError as e:
            print(f"instore events: skipped a message on {topic}: {e}", file=sys.stderr)
            return
        with self._lock:
            if event.id in self._seen:
                return
            self._seen.add(event.id)
            self._order.append(event.id)
            self.printed += 1
            if len(self._order) > DEDUP_MEMORY:
                self._seen.discard(self._order.popleft())
            cloudevent = json.dumps(event.to_cloudevent(), separators=(",", ":"))
            self.write(cloudevent if self.as_json else human(event))
            if self.count is not None and self.printed >= self.count:
                self.done.set()
