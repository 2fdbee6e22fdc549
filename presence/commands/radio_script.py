"""``instore radio-script``: radio scripts for the fake radio, made from a simulated day."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from positioning.layout import load_layout
from presence.errors import UsageError

__all__ = ["EPILOG", "register", "run"]

EPILOG = """examples:
  instore simulate --store examples/stores/showroom.toml --shoppers 12 --duration 20m --seed 3 -o day
  instore radio-script --sim day --store examples/stores/showroom.toml -o visit.jsonl
  instore radio-script --sim day --store examples/stores/showroom.toml --people 2 -o two/
  instore demo --source scan --store examples/stores/showroom.toml --fake-advertisements visit.jsonl

A script is JSON lines, one advertisement each, with the layout's real iBeacon or
Eddystone-UID payload and the simulated RSSI (format in docs/beacons.md). With --people N,
-o is a folder that receives person-1.jsonl ... person-N.jsonl, starting together."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "radio-script",
        help="make fake-radio scripts (what a phone hears) from a simulated day's visits",
        description=(
            "Pick visits from an `instore simulate` folder (phone topology) and write what "
            "each visitor's phone hears as a radio script for --fake-advertisements: the "
            "layout's beacon payloads, the simulated RSSI, the simulated timing."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sim", required=True, metavar="DIR", help="an `instore simulate` folder")
    p.add_argument("--store", required=True, metavar="FILE", help="the layout it simulated")
    p.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="ID",
        help="script this simulated device's visit (repeatable); default: pick --people visits",
    )
    p.add_argument(
        "--people", type=int, default=1, help="visits to pick, overlapping in time (default 1)"
    )
    p.add_argument(
        "--min-dwells",
        type=int,
        default=2,
        help="pick visits with at least this many stops (default 2)",
    )
    p.add_argument(
        "-o", "--output", required=True, help="script file; a folder with several people"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.radioscript import complete_visits, pick_visits, script_lines

    sim_dir = Path(args.sim)
    if not sim_dir.is_dir():
        raise UsageError(f"--sim: {sim_dir} is not a folder")
    if args.people < 1 or args.min_dwells < 0:
        raise UsageError("--people must be 1 or more and --min-dwells 0 or more")
    layout = load_layout(args.store)
    if args.device:
        known = {v.device_id: v for v in complete_visits(sim_dir)}
        missing = [d for d in args.device if d not in known]
        if missing:
            raise UsageError(f"--device: no complete visible visit of {', '.join(missing)}")
        visits = [known[d] for d in args.device]
    else:
        visits = pick_visits(sim_dir, args.people, min_dwells=args.min_dwells)
    scripts = script_lines(sim_dir, layout, visits)
    out = Path(args.output)
    if len(scripts) == 1:
        out.parent.mkdir(parents=True, exist_ok=True)
        paths = [out]
    else:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"person-{i}.jsonl" for i in range(1, len(scripts) + 1)]
    for path, lines, visit in zip(paths, scripts, visits, strict=True):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{path}: {len(lines) - 1} advertisements, {visit.describe()}", file=sys.stderr)
    return 0
