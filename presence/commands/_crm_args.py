"""What the CRM commands share: the database option, the store, and the service loop."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from positioning.layout import load_layout
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.crm.store import DEFAULT_URL, CrmStore
from presence.transport.bus import BusClient

#: How often a running service's tick runs (the welcome service resends what a crash
#: left committed but unpublished), seconds.
TICK_EVERY_S = 5.0


class Service(Protocol):
    def start(self) -> None: ...


ServiceT = TypeVar("ServiceT", bound=Service)


def add_crm_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--crm",
        metavar="URL",
        default=DEFAULT_URL,
        help=f"CRM database: a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default {DEFAULT_URL})",
    )


def add_service_args(p: argparse.ArgumentParser) -> None:
    """``--store``, ``--crm``, ``--for`` and the broker options of a CRM service command."""
    p.add_argument("--store", required=True, metavar="S", help="store name or layout TOML")
    add_crm_arg(p)
    p.add_argument(
        "--for", dest="for_s", type=float, metavar="SECONDS", help="stop after this long"
    )
    add_broker_args(p)


def store_name(value: str) -> str:
    """``--store``: a store name, or a layout TOML whose [store] name is used."""
    path = Path(value)
    if path.suffix == ".toml" or path.is_file():
        return load_layout(path).name
    return value


def run_service(
    args: argparse.Namespace,
    command: str,
    service_name: str,
    make: Callable[[BusClient, CrmStore, str], ServiceT],
    tick: Callable[[ServiceT], object] = lambda _: None,
) -> ServiceT:
    """Connect the bus and the CRM, start the service, and serve until SIGTERM, Ctrl-C
    or ``--for``; returns the stopped service for its figures."""
    store = store_name(args.store)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = None if args.for_s is None else time.monotonic() + args.for_s
    with broker_url(args) as url, CrmStore(args.crm) as crm:
        cfg = bus_config(args, url)
        with BusClient(cfg, service_name, client_id=args.client_id, store=store) as bus:
            service = make(bus, crm, store)
            service.start()
            print(
                f"instore {command}: ready, store {store}, CRM {crm.safe_url}, bus {cfg.display_url}",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                _serve(lambda: tick(service), stop, deadline)
    return service


def _serve(tick: Callable[[], object], stop: threading.Event, deadline: float | None) -> None:
    """Call ``tick`` every TICK_EVERY_S until ``stop`` or the monotonic ``deadline``."""
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        if stop.wait(TICK_EVERY_S if remaining is None else min(TICK_EVERY_S, remaining)):
            return
        tick()
