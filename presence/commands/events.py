"""``instore events``: tail presence events from MQTT, for people (a line each) or machines (--json)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.services.tail import EventTail
from presence.transport.bus import BusClient
from presence.transport.topics import ALL_EVENTS_FILTER, Topics

__all__ = ["register", "run"]


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


def run(args: argparse.Namespace) -> int:
    tail = EventTail(as_json=args.json, count=args.count)
    signal.signal(signal.SIGTERM, lambda *_: tail.done.set())
    topic_filter = Topics(args.store).events_filter if args.store else ALL_EVENTS_FILTER
    with broker_url(args) as url:
        persistent = bool(args.persistent)
        with BusClient(
            bus_config(args, url), "events", client_id=args.client_id, persistent=persistent
        ) as client:
            tail.subscribe(client, topic_filter)
            print(f"instore events: listening on {topic_filter}", file=sys.stderr, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                tail.done.wait()
    return 0
