"""``instore scan``: live BLE scanning of the layout's beacons.

Three outputs: observations published on MQTT (default), positions and presence
events from the engine in-process (``--engine``), or a live table of the beacons
heard for whoever is mounting them (``--table``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live

from beacons.identity import BeaconIdentities
from beacons.observation import Observation, ObservationBatch
from beacons.scanner import BleakObservationSource, Heard, fake_backend
from beacons.testing import load_fake_advertisements
from positioning.layout import Layout, load_layout
from presence.beacon_table import BeaconTable
from presence.commands._bus_args import broker_url as bus_broker_url
from presence.errors import UsageError

if TYPE_CHECKING:
    from positioning.engine import EngineOutput

log = logging.getLogger(__name__)

#: Observations of one device are sent as one scan message per window (engine epochs are 1 s;
#: half of that keeps latency low). Several readings of a beacon in a window are averaged in dBm.
DEFAULT_PUBLISH_INTERVAL_S = 0.5
TABLE_REFRESH_PER_S = 4
#: The engine's clock is moved on this often when nothing is heard, and lags the wall
#: clock by its reorder tolerance (one 1 s epoch) so rows still queued are not late.
ENGINE_TICK_S = 1.0
ENGINE_CLOCK_LAG_S = 1.0

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


def make_source(
    args: argparse.Namespace, layout: Layout, on_heard: Callable[[Heard], None] | None = None
) -> BleakObservationSource:
    backend = None
    if args.fake_advertisements:
        backend = fake_backend(load_fake_advertisements(args.fake_advertisements))
    return BleakObservationSource(
        BeaconIdentities(layout.beacons),
        device_id=args.device_id,
        clock=time.time,
        adapter=args.adapter,
        backend=backend,
        on_heard=on_heard,
    )


async def consume(
    source: BleakObservationSource, sink: Callable[[Observation], None], seconds: float | None
) -> None:
    """Feed every observation to ``sink`` until ``seconds`` elapse (or forever)."""

    async def loop() -> None:
        async for obs in source:
            sink(obs)

    if seconds is None:
        await loop()
        return
    try:
        async with asyncio.timeout(seconds):
            await loop()
    except TimeoutError:
        pass


def check_timing(args: argparse.Namespace) -> None:
    """--seconds and --publish-interval must be positive when given."""
    for name in ("seconds", "publish_interval"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value}")


def run(args: argparse.Namespace) -> int:
    check_timing(args)
    layout = load_layout(args.store)
    if args.table:
        return _run_table(args, layout)
    if args.engine:
        return _run_engine(args, layout)
    return _run_publish(args, layout)


# --- MQTT --------------------------------------------------------------------------------


@dataclass(slots=True)
class ScanWindows:
    """Groups observations into one scan message per device per window."""

    interval_s: float
    publish: Callable[[str, float, dict[str, float]], None]
    _start_s: float | None = None
    _rows: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    _last_t: dict[str, float] = field(default_factory=dict)

    def add(self, obs: Observation) -> None:
        if self._start_s is None:
            self._start_s = obs.t_s
        elif obs.t_s - self._start_s >= self.interval_s:
            self.flush()
            self._start_s = obs.t_s
        self._rows.setdefault(obs.device_id, {}).setdefault(obs.beacon_id, []).append(obs.rssi_dbm)
        self._last_t[obs.device_id] = obs.t_s

    def flush_due(self, t_s: float) -> None:
        """Flush if the open window is older than the interval at time ``t_s``."""
        if self._start_s is not None and t_s - self._start_s >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        self._start_s = None
        for device, beacons in self._rows.items():
            mean = {b: sum(v) / len(v) for b, v in beacons.items()}
            self.publish(device, self._last_t[device], mean)
        self._rows.clear()
        self._last_t.clear()


@contextmanager
def broker_url(url: str | None) -> Iterator[str]:
    """``url``, or the URL of an embedded broker started for the duration (interface D)."""
    with bus_broker_url(argparse.Namespace(broker=url)) as resolved:
        yield resolved


def _run_publish(args: argparse.Namespace, layout: Layout) -> int:
    from presence.bus import BusClient, BusConfig
    from presence.payloads import encode_observations
    from presence.topics import Topics

    topics = Topics(layout.name)
    source = make_source(args, layout)
    with (
        broker_url(args.broker) as url,
        BusClient(BusConfig(url), "scan", store=layout.name) as bus,
    ):
        windows = ScanWindows(
            args.publish_interval,
            lambda device, t, rssi: bus.publish(
                topics.obs(device), encode_observations(device, t, rssi)
            ),
        )
        asyncio.run(consume(source, windows.add, args.seconds))
        windows.flush()
    _print_stats(source)
    return 0


def _print_stats(source: BleakObservationSource) -> None:
    s = source.stats
    print(
        f"advertisements {s.advertisements}, layout beacons {s.matched}, other beacons {s.unknown}, "
        f"malformed {s.malformed}, scanner restarts {s.restarts}",
        file=sys.stderr,
    )


# --- engine ------------------------------------------------------------------------------


class EngineSink:
    """Feeds observations to the engine in-process and prints its output as JSON lines.

    Events are CloudEvents (ARCHITECTURE 3.3); with ``positions`` each position is a line
    ``{"position": {"t", "device", "x", "y", "zone", "sigma"}}``. ``advance`` moves the
    observation clock on when nothing is heard, so exits and dwell ends still fire.
    """

    def __init__(self, layout: Layout, *, positions: bool = False) -> None:
        from positioning.engine import Engine

        self.engine = Engine(layout)
        self.positions = positions

    def __call__(self, obs: Observation) -> None:
        self._emit(self.engine.push(ObservationBatch.from_observations([obs])))

    def advance(self, t_s: float) -> None:
        self._emit(self.engine.advance(t_s - ENGINE_CLOCK_LAG_S))

    def finish(self) -> None:
        self._emit(self.engine.finish())

    def _emit(self, out: EngineOutput) -> None:
        if self.positions:
            p = out.positions
            for i in range(len(p)):
                row = {
                    "t": round(float(p.t_s[i]), 3),
                    "device": str(p.device_id[i]),
                    "x": round(float(p.x_m[i]), 2),
                    "y": round(float(p.y_m[i]), 2),
                    "zone": str(p.zone[i]),
                    "sigma": round(float(p.sigma_m[i]), 2),
                }
                print(json.dumps({"position": row}))
        for e in out.events:
            print(json.dumps(e.to_cloudevent()))
        sys.stdout.flush()


def _run_engine(args: argparse.Namespace, layout: Layout) -> int:
    sink = EngineSink(layout, positions=args.positions)
    source = make_source(args, layout)

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
    _print_stats(source)
    return 0


# --- table -------------------------------------------------------------------------------


def _run_table(args: argparse.Namespace, layout: Layout) -> int:
    table = BeaconTable(layout)
    source = make_source(args, layout, on_heard=table.heard)
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
    _print_stats(source)
    return 0
