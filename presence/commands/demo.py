"""``instore demo``: the whole product in one command, on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from presence.commands._bus_args import add_broker_args, bus_config
from presence.demo.run import DEFAULT_PORT, DEFAULT_SPEED, DEFAULT_STORE, DemoOptions, run_demo
from presence.errors import UsageError

__all__ = ["EPILOG", "register", "run"]

EPILOG = """examples:
  instore demo                                  # open http://127.0.0.1:8000
  instore demo --speed 30 --port 8080
  instore demo --headless --for 60 --summary summary.json
  instore demo --source scan --store examples/stores/showroom.toml   # real beacons
  instore demo --source scan --store examples/stores/showroom.toml \
      --fake-advertisements examples/radio/showroom-visit.jsonl        # no Bluetooth needed

Everything runs on embedded defaults: an amqtt broker in-process and a seeded SQLite
CRM in a temporary directory (kept with --workdir). With --broker every part connects to
that broker as the one user given by --username and $INSTORE_MQTT_PASSWORD. See docs/demo.md."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline live (simulated store, CRM, welcome) with the staff dashboard",
        description=(
            "Start everything: an MQTT broker, a seeded CRM, a simulated store day replayed "
            "live through the real pipeline (replay -> run -> CRM lookup -> welcome), and the "
            "staff dashboard in the browser. Ctrl-C stops every part."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_args(p, client_id=False)
    p.add_argument(
        "--crm",
        metavar="URL",
        help="CRM database URL: seeded for the demo if it has no customers, else used as is "
        "(default: a fresh SQLite CRM in the work directory)",
    )
    p.add_argument(
        "--store",
        metavar="FILE",
        default=DEFAULT_STORE,
        help=f"store layout (default {DEFAULT_STORE})",
    )
    p.add_argument(
        "--speed",
        metavar="N",
        type=float,
        help=f"replay the simulated day at N x real time (default {DEFAULT_SPEED:g}); with "
        "--fake-advertisements, play the radio scripts N x faster (default 1)",
    )
    p.add_argument(
        "--source",
        choices=("sim", "scan"),
        default="sim",
        help="sim: a simulated day (default); scan: this computer's Bluetooth adapter",
    )
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"dashboard port (default {DEFAULT_PORT})"
    )
    p.add_argument("--headless", action="store_true", help="no dashboard; for scripts and CI")
    p.add_argument(
        "--for", dest="for_s", metavar="SECONDS", type=float, help="stop after this many seconds"
    )
    p.add_argument("--summary", metavar="FILE", help="write a JSON summary of the run at the end")
    p.add_argument(
        "--seed", type=int, default=1, help="seed of the simulation and the CRM (default 1)"
    )
    p.add_argument(
        "--workdir", metavar="DIR", help="keep the simulation and CRM here (default: temporary)"
    )
    p.add_argument(
        "--fake-advertisements",
        metavar="FILE",
        action="append",
        default=[],
        help="with --source scan: play this radio script through bleak instead of the adapter "
        "(docs/beacons.md); repeat it for several people, one scanner each",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.speed is not None and args.speed <= 0:
        raise UsageError(f"--speed: must be positive, got {args.speed:g}")
    if args.fake_advertisements and args.source != "scan":
        raise UsageError("--fake-advertisements: plays radio scripts for --source scan")
    if args.source == "scan" and args.speed is not None and not args.fake_advertisements:
        raise UsageError("--speed: an adapter scans in real time; only radio scripts play faster")
    sim_speed = DEFAULT_SPEED if args.speed is None or args.source == "scan" else args.speed
    if args.for_s is not None and args.for_s <= 0:
        raise UsageError(f"--for: must be positive, got {args.for_s:g}")
    if args.headless and args.for_s is None:
        raise UsageError("--headless needs --for SECONDS (a run without a page must end by itself)")
    options = DemoOptions(
        store=Path(args.store),
        broker=bus_config(args, args.broker) if args.broker else None,
        crm_url=args.crm,
        speed=sim_speed,
        source=args.source,
        host=args.host,
        port=args.port,
        headless=args.headless,
        for_s=args.for_s,
        summary=Path(args.summary) if args.summary else None,
        seed=args.seed,
        workdir=Path(args.workdir) if args.workdir else None,
        fake_advertisements=tuple(args.fake_advertisements),
        script_speed=args.speed if args.source == "scan" and args.speed is not None else 1.0,
    )
    return run_demo(options)
