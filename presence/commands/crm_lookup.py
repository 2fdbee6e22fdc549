"""``instore crm-lookup``: staff alerts with a profile card, only for personalization consent."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time

from presence.bus import BusClient
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.commands._crm_args import add_crm_arg, store_name
from presence.commands.welcome import serve
from presence.crm.store import CrmStore
from presence.staff import SERVICE_NAME, StaffLookupService


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "crm-lookup",
        help="CRM lookup: store.enter events -> staff alerts with profile cards (consent only)",
        description=(
            "Subscribes to a store's store.enter events. For a device linked to a customer with "
            "personalization consent at that moment, publishes a staff alert with the profile "
            "card (tier, recent purchases on every channel, click & collect orders ready, "
            "birthday) on instore/v1/<store>/staff/alerts, the only topic with personal data "
            "(restrict it with the broker's ACL). For everyone else: nothing."
        ),
    )
    p.add_argument("--store", required=True, metavar="S", help="store name or layout TOML")
    add_crm_arg(p)
    p.add_argument(
        "--for", dest="for_s", type=float, metavar="SECONDS", help="stop after this long"
    )
    add_broker_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = store_name(args.store)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = None if args.for_s is None else time.monotonic() + args.for_s
    with broker_url(args) as url, CrmStore(args.crm) as crm:
        cfg = bus_config(args, url)
        with BusClient(cfg, SERVICE_NAME, client_id=args.client_id, store=store) as bus:
            service = StaffLookupService(bus, crm, store)
            service.start()
            print(
                f"instore crm-lookup: ready, store {store}, CRM {crm.safe_url}, bus {cfg.display_url}",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                serve(lambda: None, stop, deadline)
    print(f"instore crm-lookup: {dict(service.stats)}", file=sys.stderr)
    return 0
