"""``instore dashboard``: the staff page for a store whose services already run."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from positioning.layout import load_layout
from presence.commands._bus_args import ENV_PASSWORD, ENV_USERNAME, bus_config
from presence.dashboard.app import Dashboard
from presence.dashboard.auth import PASSWORD_ENV, read_password

__all__ = [
    "DEFAULT_BROKER",
    "register",
    "run",
]


DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="serve the live staff dashboard of a store (map, who is in, alerts, welcome log)",
        description=(
            "Serve the staff dashboard for a store whose pipeline already runs (instore run, "
            "crm-lookup, welcome): a live floor plan with moving dots, zone occupancy, who is "
            "in the store with profile cards for consenting customers, and the welcome log. "
            "For everything in one command use `instore demo`. Each start prints a link with "
            "a fresh token; staff log in with the store password (--password-file or "
            f"${PASSWORD_ENV}), which serving beyond this machine (--host) requires. "
            "See docs/security.md."
        ),
    )
    p.add_argument("--store", required=True, help="store layout TOML")
    p.add_argument(
        "--broker", default=DEFAULT_BROKER, help=f"MQTT broker URL (default {DEFAULT_BROKER})"
    )
    p.add_argument(
        "--username", help=f"MQTT user (or ${ENV_USERNAME}); password in ${ENV_PASSWORD}"
    )
    p.add_argument("--ca-file", metavar="PEM", help="CA certificate(s) for mqtts://")
    p.add_argument("--cert-file", metavar="PEM", help="client certificate for mqtts://")
    p.add_argument("--key-file", metavar="PEM", help="client key for mqtts://")
    p.add_argument("--crm", default=None, help="CRM database URL, for the welcome log (optional)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default 127.0.0.1); any other needs a password",
    )
    p.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    p.add_argument(
        "--password-file",
        metavar="FILE",
        type=Path,
        help=f"the staff password, first line of FILE (else ${PASSWORD_ENV}; at least 12 characters)",
    )
    p.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        default=[],
        help="a host name staff type to reach the page (repeatable); IP addresses, localhost "
        "and this machine's name are always allowed, other names get 403 (DNS rebinding)",
    )
    p.set_defaults(func=run, password=None)  # the MQTT password comes from the environment


def run(args: argparse.Namespace) -> int:
    layout = load_layout(args.store)
    with Dashboard(
        layout,
        bus_config(args, args.broker),
        args.crm,
        host=args.host,
        port=args.port,
        password=read_password(args.password_file),
        allowed_hosts=tuple(args.allowed_host),
    ) as dash:
        print(f"instore dashboard: {dash.url}  (Ctrl-C to stop)", flush=True)
        threading.Event().wait()
    return 0
