"""``instore scan``: live BLE scanning of the layout's beacons.

Three outputs: observations published on MQTT (default), positions and presence
events from the engine in-process (``--engine``), or a live table of the beacons
heard for whoever is mounting them (``--table``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live

from positioning.layout import Layout, load_layout
from presence.commands._bus_args import broker_url as bus_broker_url
from presence.errors import UsageError
from presence.services.beacon_table import BeaconTable
from presence.services.scanning import (
    DEFAULT_PUBLISH_INTERVAL_S,
    ENGINE_TICK_S,
    EngineSink,
    ScannerOptions,
    StatusReporter,
    bus_windows,
    consume,
    make_source,
    print_stats,
    scanner_service,
)

__all__ = [
    "add_relay_arguments",
    "add_scanner_arguments",
    "broker_url",
    "check_timing",
    "EPILOG",
    "register",
    "run",
    "scanner_options",
    "TABLE_REFRESH_PER_S",
]

log = logging.getLogger(__name__)

TABLE_REFRESH_PER_S = 4

EPILOG = """examples:
  instore scan --store examples/stores/showroom.toml --table          # check every beacon is heard
  instore scan --store S --broker mqtt://broker:1883 --device-id tablet-1
  instore scan --store S --engine --seconds 60                        # print presence events

Linux needs BlueZ and permission to scan (see docs/beacons.md, "Troubleshooting").
--fake-advertisements plays a JSON-lines radio script through bleak instead of the
adapter: for tests and demos without hardware (format in docs/beacons.md)."""


def add_scanner_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by every command that scans (scan, calibrate)."""
    p.add_argument("--store", required=True, help="layout TOML of the store")
    p.add_argument("--adapter", help="BlueZ adapter to use, e.g. hci1 (default: the system's)")
    p.add_argument(
        "--device-id",
        default=f"scanner-{socket.gethostname()}",
        help="device id of this scanner in the observations (default: scanner-<hostname>)",
    )
    p.add_argument(
        "--fake-advertisements",
        metavar="FILE",
        help="testing/demos: play this JSON-lines radio script through bleak instead of an adapter",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="with --fake-advertisements: play the script N x faster, on a clock N x faster",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "scan",
        help="scan for the layout's BLE beacons: publish observations, run the engine, or show a table",
        description="Scan with this computer's Bluetooth adapter for the beacons of a layout.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scanner_arguments(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--table", action="store_true", help="show a live table of beacons heard")
    mode.add_argument(
        "--engine",
        action="store_true",
        help="run the engine in-process; print events as JSON lines",
    )
    add_relay_arguments(p, "MQTT broker URL (default: start an embedded broker and print its URL)")
    p.set_defaults(func=run)


def add_relay_arguments(p: argparse.ArgumentParser, broker_help: str) -> None:
    """Arguments shared by the commands that relay observations (scan, ingest-espresense)."""
    p.add_argument("--broker", help=broker_help)
    p.add_argument("--positions", action="store_true", help="with --engine: print positions too")
    p.add_argument(
        "--seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)"
    )
    p.add_argument(
        "--publish-interval",
        type=float,
        default=DEFAULT_PUBLISH_INTERVAL_S,
        help=f"seconds of observations per MQTT message (default {DEFAULT_PUBLISH_INTERVAL_S})",
    )


def check_timing(args: argparse.Namespace) -> None:
    """--seconds and --publish-interval must be positive when given."""
    for name in ("seconds", "publish_interval"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value}")


def scanner_options(args: argparse.Namespace) -> ScannerOptions:
    """The scanner arguments (``add_scanner_arguments``) as typed options."""
    return ScannerOptions(
        device_id=args.device_id,
        adapter=args.adapter,
        fake_advertisements=args.fake_advertisements,
        speed=args.speed,
    )


def run(args: argparse.Namespace) -> int:
    check_timing(args)
    layout = load_layout(args.store)
    if args.table:
        return _run_table(args, layout)
    if args.engine:
        return _run_engine(args, layout)
    return _run_publish(args, layout)


# --- MQTT --------------------------------------------------------------------------------


@contextmanager
def broker_url(url: str | None) -> Iterator[str]:
    """``url``, or the URL of an embedded broker started for the duration (interface D)."""
    with bus_broker_url(argparse.Namespace(broker=url)) as resolved:
        yield resolved


def _run_publish(args: argparse.Namespace, layout: Layout) -> int:
    from presence.transport.bus import BusClient, BusConfig

    source = make_source(scanner_options(args), layout)
    # One service per scanner: several scanners of a store never share a client id or a
    # status topic (docs/beacons.md, "Several scanners").
    service = scanner_service(source.device_id)
    with (
        broker_url(args.broker) as url,
        BusClient(BusConfig(url), service, store=layout.name) as bus,
    ):
        windows = bus_windows(bus, layout.name, args.publish_interval)
        status = StatusReporter(bus, layout.name, source, client_id=bus.client_id)
        asyncio.run(consume(source, windows.add, args.seconds, tick=status.tick))
        windows.flush()
    print_stats(source)
    return 0


def _run_engine(args: argparse.Namespace, layout: Layout) -> int:
    sink = EngineSink(layout, positions=args.positions)
    source = make_source(scanner_options(args), layout)

    async def main() -> None:
        async def tick() -> None:
            while True:
                await asyncio.sleep(ENGINE_TICK_S)
                sink.advance(time.time())

        ticker = asyncio.create_task(tick())
        try:
            await consume(source, sink, args.seconds)
        finally:
            ticker.cancel()

    asyncio.run(main())
    sink.finish()
    print_stats(source)
    return 0


# --- table -------------------------------------------------------------------------------


def _run_table(args: argparse.Namespace, layout: Layout) -> int:
    table = BeaconTable(layout)
    source = make_source(scanner_options(args), layout, on_heard=table.heard)
    console = Console()

    async def refresh(live: Live) -> None:
        while True:
            live.update(table.render(time.time()), refresh=True)
            await asyncio.sleep(1.0 / TABLE_REFRESH_PER_S)

    async def main() -> None:
        with Live(table.render(time.time()), console=console, auto_refresh=False) as live:
            task = asyncio.create_task(refresh(live))
            try:
                await consume(source, lambda obs: None, args.seconds)
            finally:
                task.cancel()
                live.update(table.render(time.time()), refresh=True)

    asyncio.run(main())
    console.line()  # Live leaves the cursor at the end of the last row
    print_stats(source)
    return 0
