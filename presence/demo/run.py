"""``instore demo``: every part of the product started together on embedded defaults.

Order of start: (with ``--source scan``, a check that each scanner can scan, before
anything else) broker -> dashboard (so the address is printed at once) -> simulated
day -> seeded CRM -> the live services (run, CRM lookup, welcome) -> the observation
source (replay of the simulated day, or the Bluetooth scanners). Each part is the same
service code its standalone command runs, in a thread of this process; stopping goes
in reverse order, so the source stops first and the services drain what is in flight.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacons.scanner import RetryPolicy
from positioning.engine import EngineParams
from positioning.layout import Layout, load_layout
from presence.crm.store import CrmStore
from presence.demo import setup
from presence.demo.summary import BusRecorder, summarize
from presence.errors import UsageError
from presence.transport.bus import BusClient, BusConfig
from presence.transport.credentials import RunCredentials
from presence.transport.topics import Topics

if TYPE_CHECKING:
    from presence.dashboard.app import Dashboard
    from presence.demo.scanning import DemoScanner

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SPEED",
    "DEFAULT_STORE",
    "DEFAULT_WINDOW_S",
    "Demo",
    "DemoOptions",
    "DRAIN_S",
    "REPLAY_REORDER_S",
    "resolve_store",
    "run_demo",
    "SCAN_WINDOW_S",
]

log = logging.getLogger(__name__)

#: The fashion store with the beacons ``instore plan`` proposes when it may hang radios
#: facing the street (``--mount outline,shelves,ceiling,door,street``; the layout declares
#: its glass): issue 17, the demo shows what a planned door gives. Welcome latency from the
#: true entry p50 4.4-5.0 s (seeds 1-3) against 7.0-15.2 s on examples/stores/planned/fashion.toml
#: (the plan without street radios); docs/planning.md "Issue 17, session 27".
#: ``--store examples/stores/fashion.toml`` for the store as hung.
DEFAULT_STORE = "examples/stores/planned/street-plan/fashion.toml"
DEFAULT_SPEED = 10.0
DEFAULT_PORT = 8000
#: Store time replayed in an interactive demo (12 minutes at 10x).
DEFAULT_WINDOW_S = 2 * 3600.0
#: A device's readings within this window travel as one bus message (with each
#: reading's own time), as ``instore scan`` publishes them (every 0.5 s); one message per
#: advertisement would be ~10x the traffic for the same readings. Rows then reach the
#: engine up to this much out of order, so the engine's reorder buffer is this long
#: (:data:`REPLAY_REORDER_S`): every reading still counts and the events are those of a
#: batch run, each detected 0.5 s sooner than with the 1 s window and buffer of before
#: (measured offline, docs/planning.md "The rules' own delay (issue 17.2)").
SCAN_WINDOW_S = 0.5
#: The live engine's reorder buffer when it is fed the simulated day, seconds: the scan
#: window, the most the replay's rows can be out of order (engine default: 1 s, for
#: scanners and gateways whose messages cross a network).
REPLAY_REORDER_S = SCAN_WINDOW_S
#: After the source stops, wait at most this long for the services to go quiet.
DRAIN_S = 5.0


class _Stopped(Exception):
    """Raised inside the replay's pacing sleep to end it early."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    store: Path
    #: An external broker (URL, user, TLS) every part connects to; None: an embedded one.
    broker: BusConfig | None = None
    crm_url: str | None = None
    speed: float = DEFAULT_SPEED
    source: str = "sim"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    headless: bool = False
    for_s: float | None = None
    summary: Path | None = None
    seed: int = 1
    workdir: Path | None = None
    #: Radio scripts played through bleak instead of the adapter, one scanner each.
    fake_advertisements: tuple[str, ...] = ()
    #: How much faster than written the radio scripts play.
    script_speed: float = 1.0
    scanner_retry: RetryPolicy = RetryPolicy()

    @property
    def window_s(self) -> float:
        """Store time to simulate after the warm-up: what the run can replay, plus a margin."""
        if self.for_s is None:
            return DEFAULT_WINDOW_S
        return min(DEFAULT_WINDOW_S, self.for_s * self.speed + 60.0)


def resolve_store(path: Path) -> Path:
    """The layout file: as given, else relative to the source checkout (for the default)."""
    if path.exists():
        return path
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo / path, repo / "examples" / "stores" / path.name):
        if candidate.exists():
            return candidate
    raise UsageError(f"--store: {path} does not exist")


class Demo:
    """The running demo; ``stop()`` ends every part, newest first."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.store_path = resolve_store(options.store)
        self.layout: Layout = load_layout(self.store_path)
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = self._make_workdir()
        self.broker_url = options.broker.url if options.broker else ""
        self.credentials: RunCredentials | None = None  # per-run broker users (embedded)
        self.crm_url = options.crm_url or f"sqlite:///{self.workdir / 'crm.sqlite'}"
        self.dashboard_url: str | None = None
        self.source_done = threading.Event()
        self.recorder: BusRecorder | None = None
        self.true_entries: dict[str, list[float]] | None = None
        self.dashboard: Dashboard | None = None
        self.scanners: list[DemoScanner] = []

    def _make_workdir(self) -> Path:
        if self.options.workdir is not None:
            self.options.workdir.mkdir(parents=True, exist_ok=True)
            return self.options.workdir
        self._tmp = tempfile.TemporaryDirectory(prefix="instore-demo-")
        return Path(self._tmp.name)

    def _on_stop(self, name: str, fn: Callable[[], None]) -> None:
        self._stops.append((name, fn))

    def start(self) -> None:
        if self.options.source == "scan":
            self._probe_scanners()  # a missing adapter ends the demo before anything runs
        self._start_broker()
        CrmStore(self.crm_url).close()  # creates the schema, so every reader finds its tables
        if not self.options.headless:
            self._start_dashboard()
        window = None
        if self.options.source == "sim":
            window = setup.simulate_window(
                self.store_path, self.workdir, self.options.window_s, self.options.seed
            )
            self.true_entries = window.true_entries
        if self.options.crm_url is None or not self._crm_has_customers():
            self._seed_crm(window)
        self._start_engine()
        self._start_crm_services()
        if self.options.summary is not None:
            self._start_recorder()
        if window is not None:
            self._start_replay(window.observations)
        else:
            self._start_scan()

    def _crm_has_customers(self) -> bool:
        with CrmStore(self.crm_url) as crm:
            return crm.row_counts().get("customers", 0) > 0

    def _seed_crm(self, window: setup.SimulatedWindow | None) -> None:
        if window is not None:
            setup.seed_crm(
                self.crm_url,
                self.layout.name,
                seed=self.options.seed,
                as_of_s=window.start_s - setup.WARMUP_S,
                shopper_devices=window.shopper_devices,
                staff_devices=window.staff_devices,
            )
            return
        # The presenter's phone (the first scanner) consents to everything; a second
        # person's phone belongs to a customer with whatever consent the seed gave.
        devices = tuple(s.device_id for s in self.scanners) or (setup.SCAN_DEVICE_ID,)
        setup.seed_crm(
            self.crm_url,
            self.layout.name,
            seed=self.options.seed,
            as_of_s=time.time() - 60.0,
            customers=setup.SCAN_CRM_CUSTOMERS,
            shopper_devices=devices,
            fully_consenting=devices[:1],
        )

    def _probe_scanners(self) -> None:
        from presence.demo.scanning import DemoScanner, scanner_device_ids

        scripts: tuple[str | None, ...] = self.options.fake_advertisements or (None,)
        for device, script in zip(scanner_device_ids(len(scripts)), scripts, strict=True):
            scanner = DemoScanner(
                self.layout,
                device,
                script,
                speed=self.options.script_speed,
                retry=self.options.scanner_retry,
            )
            scanner.probe()
            self.scanners.append(scanner)

    def _start_scan(self) -> None:
        from presence.demo.scanning import end_of_scripts
        from presence.services.scanning import scanner_service

        buses = [self._bus(scanner_service(s.device_id), persistent=False) for s in self.scanners]
        # A script's end is a replay's end of stream: only the replay role may write control.
        control = self._bus("replay", persistent=False, store=False)
        for scanner, bus in zip(self.scanners, buses, strict=True):
            scanner.start(bus)

        stopping = threading.Event()

        def watch() -> None:
            for scanner in self.scanners:
                scanner.done.wait()
            if not stopping.is_set() and all(s.script_over for s in self.scanners):
                for bus in buses:  # every last scan reaches the broker before the end
                    bus.wait_published(2.0)
                end_of_scripts(control, self.layout.name, self.scanners)
                print("instore demo: the radio scripts are over", file=sys.stderr)
            self.source_done.set()

        watcher = threading.Thread(target=watch, name="demo-scan-watch", daemon=True)
        watcher.start()

        def stop() -> None:
            stopping.set()
            for scanner in self.scanners:
                scanner.stop()
            watcher.join(timeout=5)
            for bus in [*buses, control]:
                bus.close(drain_timeout_s=2.0)

        self._on_stop("scan", stop)

    def _bus(self, service: str, *, persistent: bool, store: bool = True) -> BusClient:
        """A client for one part; ids are unique per demo process so two demos never clash."""
        client_id = f"instore-demo-{service}-{self.layout.name}-{os.getpid()}"
        return BusClient(
            setup.demo_bus_config(self.broker_url, self.credentials, service, self.options.broker),
            service,
            client_id=client_id,
            persistent=persistent,
            store=self.layout.name if store else None,
        )

    def _start_engine(self) -> None:
        from presence.services.live import LiveService, StoreEngine

        inbound = self._bus("run", persistent=True, store=False)
        out = self._bus("run-out", persistent=False)
        params = EngineParams(reorder_s=REPLAY_REORDER_S) if self.options.source == "sim" else None
        service = LiveService([StoreEngine(self.layout, out, params=params)], inbound).start()

        def stop() -> None:
            service.stop()
            inbound.close()
            out.close()

        self._on_stop("live engine", stop)

    def _start_crm_services(self) -> None:
        """The CRM lookup (staff alerts) and the welcome service, with its resend tick."""
        from presence.services.staff import SERVICE_NAME as LOOKUP
        from presence.services.staff import StaffLookupService
        from presence.welcome.service import RESEND_EVERY_S, WelcomeService
        from presence.welcome.service import SERVICE_NAME as WELCOME

        crm = CrmStore(self.crm_url)
        lookup_bus = self._bus(LOOKUP, persistent=True)
        StaffLookupService(lookup_bus, crm, self.layout.name).start()
        welcome_bus = self._bus(WELCOME, persistent=True)
        welcome = WelcomeService(welcome_bus, crm, self.layout.name)
        welcome.start()
        stopping = threading.Event()

        def resend() -> None:
            while not stopping.wait(RESEND_EVERY_S):
                welcome.resend_pending()

        ticker = threading.Thread(target=resend, name="demo-welcome-resend", daemon=True)
        ticker.start()

        def stop() -> None:
            stopping.set()
            ticker.join(timeout=5)
            welcome_bus.close()
            lookup_bus.close()
            crm.close()

        self._on_stop("CRM lookup and welcome", stop)

    def _start_recorder(self) -> None:
        bus = self._bus("recorder", persistent=False, store=False)
        self.recorder = BusRecorder(Topics(self.layout.name))
        self.recorder.attach(bus)
        self._on_stop("recorder", bus.close)

    def _start_replay(self, path: Path) -> None:
        from tqdm import tqdm

        from presence.services.replay import replay_log

        client = self._bus("replay", persistent=False, store=False)
        stopping = threading.Event()

        def sleep(seconds: float) -> None:
            if stopping.wait(seconds):
                raise _Stopped

        def replay() -> None:
            desc = f"replaying at {self.options.speed:g}x"
            try:
                with tqdm(
                    unit="obs", unit_scale=True, desc=desc, file=sys.stderr, disable=None
                ) as bar:

                    def progress(rows: int) -> None:
                        bar.update(rows)
                        if stopping.is_set():  # a replay running behind its pace never sleeps
                            raise _Stopped

                    replay_log(
                        client,
                        self.layout,
                        str(path),
                        speed=self.options.speed,
                        window_s=SCAN_WINDOW_S,
                        on_rows=progress,
                        sleep=sleep,
                    )
                print("instore demo: the simulated window is over", file=sys.stderr)
            except _Stopped:
                pass
            finally:
                self.source_done.set()

        thread = threading.Thread(target=replay, name="demo-replay", daemon=True)
        thread.start()

        def stop() -> None:
            stopping.set()
            thread.join(timeout=10)
            log.info("demo: replay has %d messages unacknowledged", client.pending)
            client.close(drain_timeout_s=2.0)

        self._on_stop("replay", stop)

    def stop_source(self) -> None:
        """Stop the observation source (the newest part) and let the services drain."""
        while self._stops and self._stops[-1][0] in ("replay", "scan"):
            name, fn = self._stops.pop()
            began = time.monotonic()
            fn()
            log.info("demo: %s stopped in %.1f s", name, time.monotonic() - began)
        if self.recorder is not None:
            last: dict[str, int] = {}
            deadline = time.monotonic() + DRAIN_S
            while time.monotonic() < deadline and self.recorder.counts() != last:
                last = self.recorder.counts()
                time.sleep(1.0)

    def summary(self) -> dict[str, Any]:
        """Stop the source, let the services drain, and sum up what the bus and CRM saw."""
        if self.recorder is None:
            raise UsageError("a summary needs the recorder: pass --summary FILE")
        self.stop_source()
        with CrmStore(self.crm_url) as crm:
            return summarize(self.recorder, crm, true_entries=self.true_entries)

    def _start_broker(self) -> None:
        if self.broker_url:
            return
        broker, self.credentials = setup.start_secured_broker()
        self.broker_url = broker.url
        self._on_stop("broker", broker.close)

    def _start_dashboard(self) -> None:
        from presence.dashboard.app import Dashboard
        from presence.dashboard.auth import read_password

        dash = Dashboard(
            self.layout,
            setup.demo_bus_config(
                self.broker_url, self.credentials, "dashboard", self.options.broker
            ),
            self.crm_url,
            host=self.options.host,
            port=self.options.port,
            password=read_password(None),  # $INSTORE_DASHBOARD_PASSWORD, for --host
        )
        dash.start()
        self.dashboard = dash
        self.dashboard_url = dash.url
        self._on_stop("dashboard", dash.stop)
        print(f"instore demo: dashboard at {dash.url}  (Ctrl-C to stop)", flush=True)

    def stop(self) -> None:
        while self._stops:
            name, fn = self._stops.pop()
            began = time.monotonic()
            try:
                fn()
            except Exception:  # one part failing to stop must not leave the others running
                log.exception("demo: stopping %s failed", name)
            log.info("demo: %s stopped in %.1f s", name, time.monotonic() - began)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _wait(demo: Demo, for_s: float | None) -> None:
    """Until --for elapses, Ctrl-C, or (headless) the source ran out."""
    deadline = None if for_s is None else time.monotonic() + for_s
    while deadline is None or time.monotonic() < deadline:
        if demo.options.headless and demo.source_done.is_set():
            return
        time.sleep(0.2)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _already_stopping(_signum: int, _frame: object) -> None:
    print("instore demo: already stopping, every part in turn", file=sys.stderr)


def run_demo(options: DemoOptions) -> int:
    demo = Demo(options)
    # SIGTERM stops as cleanly as Ctrl-C (a service manager or a test ends us this way).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.start()
        _wait(demo, options.for_s)
        summary = demo.summary() if options.summary else None
    except KeyboardInterrupt:
        print("instore demo: stopping", file=sys.stderr)
        summary = None
    finally:
        # A second Ctrl-C must not cut the clean stop short (parts would keep running).
        previous_int = signal.signal(signal.SIGINT, _already_stopping)
        signal.signal(signal.SIGTERM, _already_stopping)
        demo.stop()
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous)
    if summary is not None and options.summary is not None:
        options.summary.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"instore demo: summary in {options.summary}")
    return 0
