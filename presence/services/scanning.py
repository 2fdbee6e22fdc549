"""Scanning: observations from this computer's Bluetooth adapter, grouped into scan messages
on the bus or fed to the engine in-process (``instore scan``, ``calibrate``, the demo and the
ESPresense relay share it).

Each scanner is one bus service, ``scan-<device>``: several scanners (two phones, a
Raspberry Pi per floor) feed one ``instore run`` without sharing a client id or a status
topic. Its retained status says whether the adapter is scanning or lost, and since when
(:class:`StatusReporter`), which the staff dashboard shows."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from beacons.fakeradio import FakeBleakBackend, fake_backend, load_fake_advertisements
from beacons.identity import BeaconIdentities
from beacons.observation import Observation, ObservationBatch
from beacons.scanner import BleakObservationSource, Heard, RetryPolicy, ScannerState
from positioning.layout import Layout
from presence.errors import UsageError
from presence.transport.payloads import ScanMessage, encode_scan, encode_status
from presence.transport.topics import SCANNER_SERVICE_PREFIX, Topics, scanner_service

if TYPE_CHECKING:
    from positioning.engine import EngineOutput
    from presence.transport.bus import Bus

__all__ = [
    "DEFAULT_PUBLISH_INTERVAL_S",
    "ENGINE_CLOCK_LAG_S",
    "ENGINE_TICK_S",
    "EngineSink",
    "SCANNER_SERVICE_PREFIX",
    "SCRIPT_DRAIN_S",
    "STATUS_EVERY_S",
    "STATUS_POLL_S",
    "ScanWindows",
    "ScannerOptions",
    "StatusReporter",
    "bus_windows",
    "consume",
    "make_source",
    "print_stats",
    "scaled_clock",
    "scanner_service",
    "scanner_status",
    "script_finished",
]

#: Observations of one device are sent as one scan message per window (engine epochs are 1 s;
#: half of that keeps latency low). Several readings of a beacon in a window are averaged in dBm.
DEFAULT_PUBLISH_INTERVAL_S = 0.5
#: The engine's clock is moved on this often when nothing is heard, and lags the wall
#: clock by its reorder tolerance (one 1 s epoch) so rows still queued are not late.
ENGINE_TICK_S = 1.0
ENGINE_CLOCK_LAG_S = 1.0
#: A scanner's status is re-published this often (wall seconds), so a dashboard started
#: later, or one that saw the bus client's bare "online" after a reconnect, is soon told again.
STATUS_EVERY_S = 10.0
#: How often the scanner's state is looked at for a change to publish (wall seconds).
STATUS_POLL_S = 0.5
#: After a radio script's last advertisement, the readings still queued get this long
#: (wall seconds) to be handed on before scanning stops: the script is over.
SCRIPT_DRAIN_S = 1.0


@dataclass(frozen=True, slots=True)
class ScannerOptions:
    """Which adapter scans and under which device id; ``fake_advertisements`` (a JSON-lines
    radio script, docs/beacons.md) plays through bleak instead of an adapter, ``speed`` times
    faster than written (its clock runs as fast, so the engine sees the scripted timing)."""

    device_id: str = field(default_factory=lambda: f"scanner-{socket.gethostname()}")
    adapter: str | None = None
    fake_advertisements: str | None = None
    speed: float = 1.0
    retry: RetryPolicy = RetryPolicy()


def scaled_clock(speed: float, now: Callable[[], float] = time.time) -> Callable[[], float]:
    """A clock that starts at ``now()`` and runs ``speed`` times faster."""
    t0 = now()
    return lambda: t0 + (now() - t0) * speed


def make_source(
    options: ScannerOptions,
    layout: Layout,
    on_heard: Callable[[Heard], None] | None = None,
    on_state: Callable[[ScannerState], None] | None = None,
) -> BleakObservationSource:
    """A scanner of ``layout``'s beacons, stamping observations with the wall clock (a radio
    script played faster stamps them with a clock running as much faster)."""
    if not options.speed > 0:
        raise UsageError(f"--speed: must be positive, got {options.speed:g}")
    backend = None
    clock: Callable[[], float] = time.time
    retry = options.retry
    if options.fake_advertisements:
        events = load_fake_advertisements(options.fake_advertisements)
        backend = fake_backend(events, speed=options.speed)
        if options.speed != 1.0:
            clock = scaled_clock(options.speed)
            k = 1.0 / options.speed
            retry = RetryPolicy(
                retry.initial_s * k,
                retry.max_s * k,
                retry.factor,
                retry.max_attempts,
                retry.silence_restart_s * k,
            )
    elif options.speed != 1.0:
        raise UsageError("--speed: an adapter scans in real time; only a radio script plays faster")
    return BleakObservationSource(
        BeaconIdentities(layout.beacons),
        device_id=options.device_id,
        clock=clock,
        adapter=options.adapter,
        backend=backend,
        retry=retry,
        on_heard=on_heard,
        on_state=on_state,
    )


def script_finished(source: BleakObservationSource) -> bool:
    """True once a radio script (``--fake-advertisements``) has been played to its end."""
    backend = source.backend
    return backend is not None and issubclass(backend, FakeBleakBackend) and backend.radio.finished


async def consume(
    source: BleakObservationSource,
    sink: Callable[[Observation], None],
    seconds: float | None,
    *,
    tick: Callable[[], None] | None = None,
) -> None:
    """Feed every observation to ``sink`` until ``seconds`` elapse, a radio script is over,
    or forever; ``tick`` is called every :data:`STATUS_POLL_S` meanwhile. A scanner error
    (no adapter at start, or retries given up) is raised."""

    async def loop() -> None:
        async for obs in source:
            sink(obs)

    async def script_over() -> None:
        while not script_finished(source):
            await asyncio.sleep(STATUS_POLL_S)
        await asyncio.sleep(SCRIPT_DRAIN_S)

    async def ticking() -> None:
        while tick is not None:
            tick()
            await asyncio.sleep(STATUS_POLL_S)

    tasks = [asyncio.create_task(f()) for f in (loop, script_over, ticking)]
    try:
        done, _ = await asyncio.wait(tasks[:2], timeout=seconds, return_when="FIRST_COMPLETED")
        for task in done:
            task.result()  # raises the scanner's error, if that is what ended it
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def scanner_status(source: BleakObservationSource, state: ScannerState) -> dict[str, Any]:
    """The ``scanner`` part of a scanner's status message, in ``state``."""
    s = source.stats
    return {
        "device": source.device_id,
        "adapter": state.adapter,
        "since": round(state.since_s, 3),
        "last_heard": None if source.last_heard_s is None else round(source.last_heard_s, 3),
        "problem": state.problem,
        "next_steps": state.next_steps,
        "advertisements": s.advertisements,
        "restarts": s.restarts,
    }


class StatusReporter:
    """Publishes a scanner's adapter state, retained, on ``status/scan-<device>``: when it
    changes (scanning, adapter lost, scanning again: each change at once, however short),
    at the first advertisement and every :data:`STATUS_EVERY_S` (call :meth:`tick` often,
    as ``consume(tick=...)`` does). Times are the scanner's clock."""

    def __init__(
        self,
        bus: Bus,
        store: str,
        source: BleakObservationSource,
        *,
        client_id: str,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = scanner_service(source.device_id)
        self._topic = Topics(store).status(self.service)
        self._bus = bus
        self._source = source
        self._client_id = client_id
        self._wall = wall
        self._sent: tuple[ScannerState | None, float] = (None, -float("inf"))
        self._sent_heard = False  # a status with a last advertisement went out
        source.watch_state(self.publish)  # every change at once, however short

    def tick(self) -> None:
        """Publish again at the first advertisement and every :data:`STATUS_EVERY_S`."""
        state, sent_at = self._sent
        if state is None:
            return
        first_heard = not self._sent_heard and self._source.last_heard_s is not None
        if first_heard or self._wall() - sent_at >= STATUS_EVERY_S:
            self.publish(state)

    def publish(self, state: ScannerState) -> None:
        scanner = scanner_status(self._source, state)
        payload = encode_status(
            self.service,
            "online",
            client_id=self._client_id,
            t_s=self._source.clock(),
            scanner=scanner,
        )
        self._bus.publish(self._topic, payload, retain=True)
        self._sent = (state, self._wall())
        self._sent_heard = scanner["last_heard"] is not None


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
