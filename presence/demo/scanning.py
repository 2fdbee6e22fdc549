"""``instore demo --source scan``: this computer's Bluetooth scanner, or radio scripts played
through bleak, publishing scans and scanner status as ``instore scan --broker`` does.

Each scanner is checked (:meth:`DemoScanner.probe`) before any other part of the demo
starts, so a missing or refusing adapter ends the demo with the scanner's one-line error
and its next steps. Once running, a scanner whose adapter goes away keeps trying (the
scanner's backoff) and reports "lost, since ..." on its status topic, which the dashboard
shows; the rest of the demo keeps running. Several radio scripts play as several
scanners (two people with their phones), the first one under :data:`SCAN_DEVICE_ID`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Sequence

from beacons.errors import ScannerError
from beacons.observation import Observation
from beacons.scanner import RetryPolicy
from positioning.layout import Layout
from presence.demo.setup import SCAN_DEVICE_ID
from presence.services.scanning import (
    DEFAULT_PUBLISH_INTERVAL_S,
    ScannerOptions,
    StatusReporter,
    bus_windows,
    consume,
    make_source,
    script_finished,
)
from presence.transport.bus import BusClient
from presence.transport.payloads import END_OF_STREAM, encode_control
from presence.transport.topics import Topics

__all__ = ["DemoScanner", "end_of_scripts", "scanner_device_ids"]

log = logging.getLogger(__name__)


def scanner_device_ids(n: int) -> tuple[str, ...]:
    """Device ids of ``n`` scanners: ``demo-scanner``, ``demo-scanner-2``, ..."""
    return tuple(SCAN_DEVICE_ID if i == 0 else f"{SCAN_DEVICE_ID}-{i + 1}" for i in range(n))


class DemoScanner:
    """One scanner in a thread of the demo: ``probe()``, then ``start(bus)``, ``stop()``."""

    def __init__(
        self,
        layout: Layout,
        device_id: str,
        script: str | None,
        *,
        speed: float = 1.0,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        options = ScannerOptions(device_id, fake_advertisements=script, speed=speed, retry=retry)
        self.layout = layout
        self.source = make_source(options, layout)
        self.last_t_s: float | None = None
        self.error: ScannerError | None = None
        self.done = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def device_id(self) -> str:
        return self.source.device_id

    @property
    def script_over(self) -> bool:
        """True when this scanner plays a radio script and played all of it."""
        return script_finished(self.source)

    def probe(self) -> None:
        """Raise :class:`ScannerError` (one line with next steps) if the adapter cannot scan.

        In a thread of its own: the caller may already run an event loop (a notebook, a test).
        """
        failed: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.source.probe())
            except BaseException as e:  # handed to the caller below
                failed.append(e)

        thread = threading.Thread(target=run, name=f"demo-probe-{self.device_id}")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]

    def start(self, bus: BusClient) -> DemoScanner:
        windows = bus_windows(bus, self.layout.name, DEFAULT_PUBLISH_INTERVAL_S)
        status = StatusReporter(bus, self.layout.name, self.source, client_id=bus.client_id)

        def add(obs: Observation) -> None:
            self.last_t_s = obs.t_s
            windows.add(obs)

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._task = loop.create_task(consume(self.source, add, None, tick=status.tick))
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except ScannerError as e:  # the adapter went away at the very first start
                self.error = e
                print(f"instore demo: scanner {self.device_id}: {e}", file=sys.stderr)
            finally:
                windows.flush()
                self.done.set()

        self._thread = threading.Thread(target=run, name=f"demo-scan-{self.device_id}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + 5.0
        while self._task is None and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._task is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        thread.join(timeout=10)
        if not thread.is_alive() and self._loop is not None:
            self._loop.close()


def end_of_scripts(bus: BusClient, store: str, scanners: Sequence[DemoScanner]) -> None:
    """Tell the live engine the radio scripts are over, so it closes the visits still open
    (store exit, dwell end), as a replay does at the end of its log."""
    times = [s.last_t_s for s in scanners if s.last_t_s is not None]
    if times:
        payload = encode_control(END_OF_STREAM, t_s=max(times), source="demo-scan")
        bus.publish(Topics(store).control, payload)
