"""``instore dashboard``: the staff page for a store whose services already run."""

from __future__ import annotations

import argparse
import threading

from positioning.layout import load_layout
from presence.dashboard.app import Dashboard
from presence.transport.bus import BusConfig

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="serve the live staff dashboard of a store (map, who is in, alerts, welcome log)",
        description=(
            "Serve the staff dashboard for a store whose pipeline already runs (instore run, "
            "crm-lookup, welcome): a live floor plan with moving dots, zone occupancy, who is "
            "in the store with profile cards for consenting customers, and the welcome log. "
            "For everything in one command use `instore demo`."
        ),
    )
    p.add_argument("--store", required=True, help="store layout TOML")
    p.add_argument(
        "--broker", default=DEFAULT_BROKER, help=f"MQTT broker URL (default {DEFAULT_BROKER})"
    )
    p.add_argument("--crm", default=None, help="CRM database URL, for the welcome log (optional)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = load_layout(args.store)
    with Dashboard(
        layout, BusConfig(args.broker), args.crm, host=args.host, port=args.port
    ) as dash:
        print(f"instore dashboard: {dash.url}  (Ctrl-C to stop)", flush=True)
        threading.Event().wait()
    return 0
