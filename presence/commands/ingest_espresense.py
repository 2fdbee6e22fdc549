"""``instore ingest-espresense``: ESPresense ESP32 nodes as fixed receivers of a layout."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from positioning.layout import Layout, load_layout
from presence.commands.scan import add_relay_arguments, broker_url, check_timing
from presence.errors import UsageError
from presence.services.espresense import (
    SERVICE,
    EspresenseIngest,
    EspresenseRelay,
    describe_counts,
    run_relay,
)
from presence.services.scanning import EngineSink

__all__ = ["EPILOG", "parse_room_map", "read_known_devices", "register", "run"]

log = logging.getLogger(__name__)


EPILOG = """examples:
  instore ingest-espresense --broker mqtt://homeassistant.local:1883 --store home.toml
  instore ingest-espresense --broker URL --store S --room-map kitchen=r1 --room-map hall=r2
  instore ingest-espresense --broker URL --store S --engine     # print presence events

Each ESPresense node's room is a receiver of the layout: give the [[beacons]] entries
the room names as ids (at the node positions; "Living Room", living-room and
living_room all match the node's living_room), or map rooms with --room-map. Nodes'
own beacons (iBeacon:e5ca1ade-f007-ba11-0000-000000000000-*, node:*) are dropped. Only
devices advertising an iBeacon, AltBeacon or Eddystone-UID id, or listed with
--known-devices, are used; MAC-address and fingerprint ids are dropped."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest-espresense",
        help="turn ESPresense node reports (MQTT) into instore observations, positions and events",
        description="Subscribe to espresense/devices/<id>/<room> and feed the layout's receivers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", required=True, help="layout TOML; receivers at the nodes' positions")
    p.add_argument(
        "--room-map",
        action="append",
        default=[],
        metavar="ROOM=RECEIVER",
        help="map an ESPresense room to a layout receiver id (repeatable)",
    )
    p.add_argument(
        "--known-devices", metavar="FILE", help="file of extra device ids to accept, one a line"
    )
    p.add_argument(
        "--no-normalise",
        action="store_true",
        help="use the raw RSSI instead of moving it onto the receiver's 1 m reference",
    )
    p.add_argument("--engine", action="store_true", help="run the engine in-process; print events")
    add_relay_arguments(p, "MQTT broker URL the nodes publish to (default: embedded broker)")
    p.set_defaults(func=run)


def parse_room_map(items: list[str], layout: Layout) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        room, sep, receiver = item.partition("=")
        if not sep or not room or not receiver:
            raise UsageError(f"--room-map {item!r}: expected ROOM=RECEIVER")
        if receiver not in layout.beacon_index:
            raise UsageError(f"--room-map {item!r}: {receiver!r} is not a receiver of the layout")
        out[room] = receiver
    return out


def read_known_devices(path: str | None) -> set[str]:
    if path is None:
        return set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"{path}: cannot read known devices: {e.strerror or e}") from e
    return {x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")}


def run(args: argparse.Namespace) -> int:
    from presence.transport.bus import BusClient, BusConfig

    check_timing(args)
    layout = load_layout(args.store)
    ingest = EspresenseIngest(
        receivers={b.id: b.tx_power_dbm for b in layout.beacons},
        room_map=parse_room_map(args.room_map, layout),
        known_devices=read_known_devices(args.known_devices),
        normalise=not args.no_normalise,
    )
    with (
        broker_url(args.broker) as url,
        # A clean session: reports carry no time, so ones a broker kept while we were away
        # would be dated on arrival, late (docs/beacons.md, section 6).
        BusClient(BusConfig(url), SERVICE, store=layout.name, persistent=False) as bus,
    ):
        sink = EngineSink(layout, positions=args.positions) if args.engine else None
        relay = EspresenseRelay(ingest, bus, layout.name, args.publish_interval, sink)
        run_relay(relay, args.seconds, on_counts=_print_counts)
    _print_counts(ingest.counts)
    return 0


def _print_counts(counts: Mapping[str, int]) -> None:
    print(describe_counts(counts), file=sys.stderr, flush=True)
