"""``instore report DIR -o REPORT``: dwell heatmap, visits, zones, flows, uplift and accuracy
as one HTML page, its PNGs and a JSON of every figure."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from tqdm import tqdm

from analytics.privacy import DEFAULT_K

STEPS = ("load", "heatmap", "visits", "zones", "flows", "uplift", "accuracy", "page")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="analytics report of a run: dwell heatmap, visits, zones, flows, uplift, accuracy",
        description=(
            "Write REPORT/index.html (self-contained), the PNGs it shows and figures.json from a "
            "run directory: a simulation (instore simulate), a locate output (instore locate) or "
            "the live archive (instore archive). Figures from fewer than --k distinct visitors "
            "are suppressed."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help="simulation, locate or archive directory")
    p.add_argument(
        "-o", "--output", metavar="REPORT", required=True, help="directory to write the report into"
    )
    p.add_argument(
        "--store", metavar="S", help="store layout TOML (default: the one named in DIR/meta.json)"
    )
    p.add_argument(
        "--truth",
        metavar="SIMDIR",
        help="simulation directory whose ground truth DIR was located from: adds positioning accuracy",
    )
    p.add_argument(
        "--crm",
        metavar="URL",
        help="CRM database (SQLAlchemy URL) for the welcome funnel and uplift",
    )
    p.add_argument(
        "--k",
        type=int,
        default=DEFAULT_K,
        help=f"k-anonymity threshold: figures from fewer distinct visitors are suppressed (default {DEFAULT_K}; 1 turns it off)",
    )
    p.add_argument(
        "--timezone", default="UTC", help="time zone of the visits-per-hour chart (default UTC)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here: matplotlib, scipy and SQLAlchemy are not needed by `instore --help`
    from analytics.inputs import load_run
    from analytics.report import ReportOptions, build_report
    from analytics.uplift import read_crm

    options = ReportOptions(k=args.k, timezone=args.timezone)
    with tqdm(total=len(STEPS), desc="report", unit="step", leave=False) as bar:
        bar.set_postfix_str("load")
        data = load_run(args.run_dir, args.store)
        truth = (
            load_run(args.truth, args.store or data.layout.source).positions if args.truth else None
        )
        crm = read_crm(args.crm) if args.crm else None
        if crm is not None and crm.staff_devices:
            roles = data.roles.copy()
            roles.loc[roles.index.isin(list(crm.staff_devices))] = "staff"
            data = dataclasses.replace(data, roles=roles)
        bar.update()

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            if name != "heatmap":
                bar.update()

        report = build_report(data, args.output, options, truth=truth, crm=crm, progress=step)
        bar.update()
    print(f"report: {report.html} ({len(report.pngs)} figures, {Path(report.json).name})")
    return 0
