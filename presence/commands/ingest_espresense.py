"""``instore ingest-espresense``: ESPresense ESP32 nodes as fixed receivers of a layout."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from positioning.layout import Layout, load_layout
from presence.commands.scan import (
    ENGINE_TICK_S,
    EngineSink,
    ScanWindows,
    add_relay_arguments,
    broker_url,
    check_timing,
)
from presence.errors import UsageError
from presence.espresense import DEVICES_FILTER, EspresenseIngest
from presence.payloads import PayloadError

if TYPE_CHECKING:
    from presence.bus import BusClient

log = logging.getLogger(__name__)

SERVICE = "ingest-espresense"
#: How often the main loop closes due observation windows and checks the deadline.
TICK_S = 0.1

EPILOG = """examples:
  instore ingest-espresense --broker mqtt://homeassistant.local:1883 --store home.toml
  instore ingest-espresense --broker URL --store S --room-map kitchen=r1 --room-map hall=r2
  instore ingest-espresense --broker URL --store S --engine     # print presence events

Each ESPresense node's room is a receiver of the layout: give the [[beacons]] entries
the room names as ids (at the node positions), or map rooms with --room-map. Only
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
    from presence.bus import BusClient, BusConfig

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
        BusClient(BusConfig(url), SERVICE, store=layout.name) as bus,
    ):
        sink = EngineSink(layout, positions=args.positions) if args.engine else None
        relay = _Relay(ingest, bus, layout.name, args.publish_interval, sink)
        bus.subscribe(DEVICES_FILTER, relay.on_message)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(TICK_S)
            relay.tick()
        relay.close()
    print(
        "espresense reports: " + ", ".join(f"{k} {v}" for k, v in sorted(ingest.counts.items())),
        file=sys.stderr,
    )
    return 0


class _Relay:
    """Bus handler: reports -> observations -> scan messages (or the engine); bad ones dead-lettered.

    The bus calls ``on_message`` from its dispatcher thread and the main loop calls
    ``tick``; one lock keeps the windows and the engine consistent.
    """

    def __init__(
        self,
        ingest: EspresenseIngest,
        bus: BusClient,
        store: str,
        interval_s: float,
        sink: EngineSink | None,
    ) -> None:
        from presence.payloads import encode_observations
        from presence.topics import Topics

        self.ingest, self.bus, self.sink = ingest, bus, sink
        self.topics = Topics(store)
        self.lock = threading.Lock()
        self.windows = ScanWindows(
            interval_s,
            lambda device, t, rssi: bus.publish(
                self.topics.obs(device), encode_observations(device, t, rssi)
            ),
        )
        self._last_advance = time.monotonic()

    def on_message(self, topic: str, payload: bytes) -> None:
        from presence.payloads import encode_deadletter

        now = time.time()
        try:
            obs = self.ingest.handle(topic, payload, now)
        except PayloadError as e:
            dead = encode_deadletter(topic, payload, e, service=SERVICE, received_at_s=now)
            self.bus.publish(self.topics.deadletter, dead)
            return
        if obs is not None:
            with self.lock:
                (self.sink or self.windows.add)(obs)

    def tick(self) -> None:
        """Close due windows; move the engine's clock on once a second."""
        with self.lock:
            self.windows.flush_due(time.time())
            if self.sink is not None and time.monotonic() - self._last_advance >= ENGINE_TICK_S:
                self.sink.advance(time.time())
                self._last_advance = time.monotonic()

    def close(self) -> None:
        with self.lock:
            self.windows.flush()
            if self.sink is not None:
                self.sink.finish()
