"""``instore events``: tail presence events from MQTT, for people (a line each) or machines (--json)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections import deque

from positioning.events import PresenceEvent, format_time
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.transport.bus import BusClient
from presence.transport.payloads import PayloadError, decode_event
from presence.transport.topics import ALL_EVENTS_FILTER, Topics

#: Event ids remembered to drop redeliveries.
DEDUP_MEMORY = 100_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "events",
        help="tail presence events from MQTT (one line each, or --json lines)",
        description=(
            "Print presence events as they arrive on instore/v1/<store>/events/# (every store "
            "without --store). Each event is printed once, even when the broker delivers it "
            "twice (events are deduplicated by id). --json prints the CloudEvents, one per line."
        ),
    )
    p.add_argument("--store", metavar="NAME", help="only this store (its layout name)")
    p.add_argument("--json", action="store_true", help="CloudEvents JSON lines, for machines")
    p.add_argument("--count", type=int, help="exit after this many events")
    p.add_argument(
        "--persistent",
        action="store_true",
        help="persistent session (with --client-id): receive what was published while away",
    )
    add_broker_args(p)
    p.set_defaults(func=run)


def human(event: PresenceEvent) -> str:
    where = f" {event.zone}" if event.zone else ""
    took = f" after {event.duration_s:.0f} s" if event.duration_s is not None else ""
    return (
        f"{format_time(event.time_s)}  {event.store:<16} {event.type.removeprefix('instore.'):<12}"
        f" {event.device_id}{where}{took}  ({event.x_m:.1f}, {event.y_m:.1f}) m"
    )


def run(args: argparse.Namespace) -> int:
    seen: set[str] = set()
    order: deque[str] = deque()
    lock = threading.Lock()
    printed = [0]
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def on_event(topic: str, payload: bytes) -> None:
        try:
            event = decode_event(payload)
        except PayloadError as e:
            print(f"instore events: skipped a message on {topic}: {e}", file=sys.stderr)
            return
        with lock:
            if event.id in seen:
                return
            seen.add(event.id)
            order.append(event.id)
            printed[0] += 1
            if len(order) > DEDUP_MEMORY:
                seen.discard(order.popleft())
            line = (
                json.dumps(event.to_cloudevent(), separators=(",", ":"))
                if args.json
                else human(event)
            )
            print(line, flush=True)
            if args.count is not None and printed[0] >= args.count:
                done.set()

    topic_filter = Topics(args.store).events_filter if args.store else ALL_EVENTS_FILTER
    with broker_url(args) as url:
        persistent = bool(args.persistent)
        with BusClient(
            bus_config(args, url), "events", client_id=args.client_id, persistent=persistent
        ) as client:
            client.subscribe(topic_filter, on_event)
            print(f"instore events: listening on {topic_filter}", file=sys.stderr, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                done.wait()
    return 0
