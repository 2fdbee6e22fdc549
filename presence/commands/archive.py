"""``instore archive``: events and positions from MQTT to Parquet, partitioned by store and date."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from analytics.daily import refresh_daily
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.services.archive import ArchiveWriter, archive_from_bus
from presence.transport.bus import BusClient
from presence.transport.topics import ALL_EVENTS_FILTER, ALL_POSITIONS_FILTER, Topics

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "archive",
        help="archive events and positions from MQTT to Parquet (store=/date= partitions)",
        description=(
            "Subscribe to events and positions (every store, or --store) with a persistent "
            "session and write DIR/events/store=S/date=D/part-*.parquet and DIR/positions/..., "
            "a new part every --flush-every seconds and on exit (Ctrl-C or SIGTERM). Events are "
            "deduplicated by id. Read with pandas, DuckDB or Spark (hive partitioning)."
        ),
    )
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="archive directory")
    p.add_argument("--store", metavar="NAME", help="only this store (its layout name)")
    p.add_argument(
        "--flush-every", metavar="S", type=float, default=10.0, help="seconds (default 10)"
    )
    p.add_argument("--no-positions", action="store_true", help="archive events only")
    p.add_argument(
        "--daily-every",
        metavar="S",
        type=float,
        default=3600.0,
        help="refresh the chain report's daily table (DIR/daily) this often and on exit "
        "(default 3600 s; 0 = only on exit)",
    )
    p.add_argument("--no-daily", action="store_true", help="leave DIR/daily alone")
    add_broker_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    writer = ArchiveWriter(args.output)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    topics = Topics(args.store) if args.store else None
    events_filter = topics.events_filter if topics else ALL_EVENTS_FILTER
    positions_filter = topics.positions_filter if topics else ALL_POSITIONS_FILTER
    with broker_url(args) as url:
        client_id = args.client_id or f"instore-archive-{args.store or 'all'}"
        with BusClient(bus_config(args, url), "archive", client_id=client_id) as client:
            archive_from_bus(
                client, writer, events_filter, None if args.no_positions else positions_filter
            )
            print(f"instore archive: writing to {args.output}", file=sys.stderr, flush=True)
            last_daily = time.monotonic()
            try:
                while not stop.wait(args.flush_every):
                    writer.flush()
                    due = args.daily_every > 0 and time.monotonic() - last_daily >= args.daily_every
                    if due and not args.no_daily:
                        # Only stale store-days are recomputed, so a report is almost always warm.
                        refresh_daily(args.output)
                        last_daily = time.monotonic()
            except KeyboardInterrupt:
                pass
    writer.flush()
    if not args.no_daily and writer.counts["files"]:
        days = refresh_daily(args.output)
        print(f"instore archive: daily table refreshed ({days} store-days)", file=sys.stderr)
    c = writer.counts
    print(
        f"instore archive: {c['events']} events, {c['positions']} positions in {c['files']} "
        f"files under {args.output} ({c['duplicates']} duplicate events dropped)",
        file=sys.stderr,
    )
    return 0
