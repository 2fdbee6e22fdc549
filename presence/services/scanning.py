"""Scanning: observations from this computer's Bluetooth adapter, grouped into scan messages
on the bus or fed to the engine in-process (``instore scan``, ``calibrate``, the demo and the
ESPresense relay share it)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beacons.fakeradio import fake_backend, load_fake_advertisements
from beacons.identity import BeaconIdentities
from beacons.observation import Observation, ObservationBatch
from beacons.scanner import BleakObservationSource, Heard
from positioning.layout import Layout
from presence.transport.payloads import ScanMessage, encode_scan
from presence.transport.topics import Topics

if TYPE_CHECKING:
    from positioning.engine import EngineOutput
    from presence.transport.bus import Bus

__all__ = [
    "DEFAULT_PUBLISH_INTERVAL_S",
    "ENGINE_CLOCK_LAG_S",
    "ENGINE_TICK_S",
    "EngineSink",
    "ScanWindows",
    "ScannerOptions",
    "bus_windows",
    "consume",
    "make_source",
    "print_stats",
]

#: Observations of one device are sent as one scan message per window (engine epochs are 1 s;
#: half of that keeps latency low). Several readings of a beacon in a window are averaged in dBm.
DEFAULT_PUBLISH_INTERVAL_S = 0.5
#: The engine's clock is moved on this often when nothing is heard, and lags the wall
#: clock by its reorder tolerance (one 1 s epoch) so rows still queued are not late.
ENGINE_TICK_S = 1.0
ENGINE_CLOCK_LAG_S = 1.0


@dataclass(frozen=True, slots=True)
class ScannerOptions:
    """Which adapter scans and under which device id; ``fake_advertisements`` (a JSON-lines
    radio script, docs/beacons.md) plays through bleak instead of an adapter."""

    device_id: str = field(default_factory=lambda: f"scanner-{socket.gethostname()}")
    adapter: str | None = None
    fake_advertisements: str | None = None


def make_source(
    options: ScannerOptions, layout: Layout, on_heard: Callable[[Heard], None] | None = None
) -> BleakObservationSource:
    """A scanner of ``layout``'s beacons, stamping observations with the wall clock."""
    backend = None
    if options.fake_advertisements:
        backend = fake_backend(load_fake_advertisements(options.fake_advertisements))
    return BleakObservationSource(
        BeaconIdentities(layout.beacons),
        device_id=options.device_id,
        clock=time.time,
        adapter=options.adapter,
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


def print_stats(source: BleakObservationSource) -> None:
    """The scanner's counters, one line on stderr."""
    s = source.stats
    print(
        f"advertisements {s.advertisements}, layout beacons {s.matched}, other beacons {s.unknown}, "
        f"malformed {s.malformed}, scanner restarts {s.restarts}",
        file=sys.stderr,
    )


@dataclass(slots=True)
class ScanWindows:
    """Groups a live scanner's observations into one scan message per device per window.

    A window *averages* the readings of a beacon (mean in dBm), stamped with the time of
    the device's last reading; a replay instead keeps each reading with its offset
    (``presence.services.replay.scans``). Why the difference: a phone's BLE stack reports
    every advertisement (about 10 a second per beacon), so keeping each would multiply a
    message's size by that rate with readings a few ms apart that the engine's 1 s epochs
    pool anyway; one mean per beacon keeps a message bounded by the number of beacons
    heard. A replay must give the engine the log's exact rows (its events equal a batch
    run's), so it keeps them. (Keeping each reading here too would let the engine's
    outlier gate see every advertisement; that would change what ``instore scan`` sends.)
    """

    interval_s: float
    publish: Callable[[ScanMessage], None]
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
            self.publish(ScanMessage(device, self._last_t[device], mean))
        self._rows.clear()
        self._last_t.clear()


def bus_windows(bus: Bus, store: str, interval_s: float) -> ScanWindows:
    """Scan windows that publish each scan message on ``instore/v1/<store>/obs/<device>``."""
    topics = Topics(store)
    return ScanWindows(
        interval_s, lambda scan: bus.publish(topics.obs(scan.device_id), encode_scan(scan))
    )


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
