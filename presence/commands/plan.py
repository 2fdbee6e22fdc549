"""``instore plan --store S -o DIR [--add N] [--receivers]``: where to hang the radios.

Writes DIR/plan-{bound,zones,door,layout}.png, DIR/proposed.toml, DIR/plan.json and
DIR/summary.html. See docs/planning.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from planning.maps import draw_maps
from planning.mounting import DEFAULT_RULES, parse_rules
from planning.plan import make_plan
from planning.summary import steps_table, summary_html
from presence.commands._plan_days import DayParams, compare_days
from presence.commands.evaluate import json_safe
from presence.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "plan",
        help="maps of what a layout can deliver and where to add beacons or receivers",
        description=(
            "From a store layout alone: maps of the position error bound (Cramer-Rao, with the "
            "simulator's noise and the obstacles), zone confusion, and the door (how well 'just "
            "inside' and 'just outside' are told apart, and the enter latency that follows); a "
            "greedy choice of up to N radios to add within the mounting rules, with what each "
            "buys; the proposed layout TOML; and a one-page HTML summary with a before/after "
            "table from simulated days (skipped with --quick). See docs/planning.md."
        ),
        epilog=(
            "examples:\n"
            "  instore plan --store examples/stores/fashion.toml -o plan/ --add 4\n"
            "  instore plan --store examples/stores/supermarket.toml -o plan/ --add 6 --quick\n"
            "  instore plan --store examples/stores/showroom.toml -o plan/ --add 3 --receivers --mount outline,door"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", metavar="S", required=True, help="store layout TOML")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    p.add_argument(
        "--add", metavar="N", type=int, default=0, help="radios to add (default 0: maps only)"
    )
    p.add_argument(
        "--receivers",
        action="store_true",
        help="plan fixed receivers hearing the shoppers' phones instead of beacons heard by a phone app",
    )
    p.add_argument(
        "--mount",
        metavar="RULES",
        default=",".join(DEFAULT_RULES),
        help="where radios may go, comma-separated: outline (walls), shelves (shelf tops), "
        "ceiling (2.5 m grid), door (door frame), street (outside the glass: door frame and "
        "fascia, facing the street) (default: all but street)",
    )
    p.add_argument("--quick", action="store_true", help="skip the simulated before/after days")
    p.add_argument(
        "--seeds", metavar="K", type=int, default=2, help="simulated days per layout (default 2)"
    )
    p.add_argument(
        "--shoppers",
        metavar="N",
        type=int,
        default=30,
        help="shoppers per simulated day (default 30)",
    )
    p.add_argument(
        "--minutes",
        metavar="M",
        type=float,
        default=20.0,
        help="length of a simulated day (default 20)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.shoppers < 1 or args.minutes <= 0:
        raise UsageError("--seeds, --shoppers and --minutes must be positive")
    store, out = Path(args.store), Path(args.output)
    rules = parse_rules(args.mount)
    days = DayParams(
        shoppers=args.shoppers,
        duration_s=args.minutes * 60.0,
        seeds=tuple(range(1, args.seeds + 1)),
        topology="receivers" if args.receivers else "phone",
    )
    total = 2 + args.add + (0 if args.quick else 2 * args.seeds)
    began = time.perf_counter()
    with tqdm(total=total, desc="planning", disable=args.quiet or None, file=sys.stderr) as bar:
        plan = make_plan(
            store, args.add, receivers=args.receivers, rules=rules, progress=bar.update
        )
        bar.update(args.add - len(plan.steps))  # steps not taken: nothing improved further
        out.mkdir(parents=True, exist_ok=True)
        proposed = out / "proposed.toml"
        proposed.write_text(plan.proposal, encoding="utf-8")
        maps = draw_maps(
            plan.layout, plan.floor, plan.before, plan.after, [s.candidate for s in plan.steps], out
        )
        verification = None
        commands = [
            f"instore plan --store {store} -o {out} --add {args.add}"
            + (" --receivers" if args.receivers else "")
        ]
        if not args.quick:
            verification = compare_days({"as hung": store, "proposed": proposed}, days, bar.update)
            commands.append(
                f"simulated days: {days.shoppers} shoppers, {args.minutes:g} min, seeds {', '.join(map(str, days.seeds))}; "
                "figures averaged over seeds, passers-by summed"
            )
    took = time.perf_counter() - began
    (out / "summary.html").write_text(
        summary_html(plan, maps, verification, commands), encoding="utf-8"
    )
    record = {
        "store": plan.layout.name,
        "topology": plan.topology,
        "mounting_rules": list(plan.rules),
        "steps": steps_table(plan).to_dict(orient="records"),
        "verification": None if verification is None else verification.to_dict(orient="records"),
        "seconds": round(took, 1),
    }
    (out / "plan.json").write_text(json.dumps(json_safe(record), indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        print(steps_table(plan).to_string(index=False))
        if verification is not None:
            print(verification.round(2).to_string(index=False))
        print(f"wrote {out}/summary.html, proposed.toml and {len(maps)} maps in {took:.1f} s")
    return 0
