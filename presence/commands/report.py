"""``instore report DIR -o REPORT``: dwell heatmap, visits, zones, flows, uplift and accuracy
as one HTML page, its PNGs and a JSON of every figure; ``instore report ARCHIVE --stores A,B
--from DATE --to DATE -o REPORT``: the chain page over the archive (DuckDB by default)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from pathlib import Path

from tqdm import tqdm

from analytics.privacy import DEFAULT_K

__all__ = [
    "STEPS",
    "register",
    "run_chain",
    "run",
]


STEPS = ("load", "heatmap", "visits", "zones", "flows", "uplift", "accuracy", "page")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="analytics report of a run: dwell heatmap, visits, zones, flows, uplift, accuracy",
        description=(
            "Write REPORT/index.html (self-contained), the PNGs it shows and figures.json from a "
            "run directory: a simulation (instore simulate), a locate output (instore locate) or "
            "the live archive (instore archive). Figures from fewer than --k distinct visitors "
            "are suppressed. Over an archive with --stores, --from, --to, --compare or --engine "
            "(or without --store), the chain page instead: stores side by side, week over week, "
            "day of week x hour, dwell per zone per visitor, from the daily table kept beside "
            "the archive (ARCHIVE/daily, refreshed for what changed)."
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
        "--timezone",
        "--tz",
        default=None,
        metavar="ZONE",
        help="time zone of the visits-per-hour charts (default UTC); over an archive, one zone "
        "for every store or store=zone pairs (A=Europe/Paris,B=America/New_York), else "
        "ARCHIVE/timezones.toml",
    )
    chain = p.add_argument_group("chain report over an archive")
    chain.add_argument("--stores", metavar="A,B", help="stores to compare (default: every store)")
    chain.add_argument(
        "--from", dest="first", metavar="DATE", type=_date, help="first day, YYYY-MM-DD (UTC)"
    )
    chain.add_argument(
        "--to", dest="last", metavar="DATE", type=_date, help="last day included, YYYY-MM-DD"
    )
    chain.add_argument(
        "--compare",
        choices=["previous-period"],
        help="also show the period of the same length just before",
    )
    chain.add_argument(
        "--engine", choices=["duckdb", "spark"], help="query engine (default duckdb)"
    )
    chain.add_argument(
        "--memory-limit",
        default="500MB",
        metavar="SIZE",
        help="DuckDB's memory ceiling; the rest spills to disk (default 500MB)",
    )
    chain.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="DuckDB's threads (default: the cores not already busy, by the load average)",
    )
    p.set_defaults(func=run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from e


def _is_chain(args: argparse.Namespace) -> bool:
    options = (args.stores, args.first, args.last, args.compare, args.engine)
    root = Path(args.run_dir)
    archive = any(root.glob("positions/store=*")) or any(root.glob("events/store=*"))
    return archive and (any(o is not None for o in options) or args.store is None)


def run_chain(args: argparse.Namespace) -> int:
    # imported here: DuckDB and matplotlib are not needed by `instore --help`
    from analytics.chain import Period, chain_figures
    from analytics.chainpage import write_chain_page
    from analytics.daily import refresh_daily
    from analytics.engines import make_engine
    from analytics.errors import AnalyticsError
    from analytics.localtime import store_zones
    from analytics.privacy import check_k
    from analytics.sources import ArchiveSource, Selection
    from analytics.uplift import read_crm
    from positioning.layout import load_layout

    check_k(args.k)
    archive = ArchiveSource(Path(args.run_dir))
    zones = store_zones(args.timezone, archive.root)
    crm = read_crm(args.crm) if args.crm else None
    stores = tuple(s.strip() for s in args.stores.split(",") if s.strip()) if args.stores else None
    known = archive.stores()
    missing = sorted(set(stores or ()) - set(known))
    if missing:
        raise AnalyticsError(
            f"--stores: no partition store={', '.join(missing)} in {archive.root} (found: {', '.join(known) or 'none'})"
        )
    dates = archive.dates()
    first = args.first or (dates[0] if dates else dt.date.today())
    last = args.last or (dates[-1] if dates else first)
    if last < first:
        raise AnalyticsError(f"--to {last} is before --from {first}")
    period = Period(first, last)
    name = args.engine or "duckdb"
    options = (
        {"memory_limit": args.memory_limit, "threads": args.threads} if name == "duckdb" else {}
    )
    engine = make_engine(name, **options)
    try:
        span = period.previous() if args.compare else period
        with tqdm(desc="daily table", unit="day", leave=False) as bar:

            def step(text: str) -> None:
                bar.set_postfix_str(text)
                bar.update()

            refresh_daily(archive.root, engine, Selection(stores, span.first, last), progress=step)
        figures = chain_figures(
            engine,
            archive,
            stores,
            period,
            args.k,
            compare=args.compare is not None,
            timezones=zones,
            crm=crm,
        )
        layout = load_layout(args.store) if args.store else None
        page = write_chain_page(figures, args.output, engine=name, layout=layout)
    finally:
        engine.close()
    print(f"report: {page.html} ({len(figures.stores)} stores, {period.label()}, {name})")
    return 0


def run(args: argparse.Namespace) -> int:
    if _is_chain(args):
        return run_chain(args)
    # imported here: matplotlib, scipy and SQLAlchemy are not needed by `instore --help`
    from analytics.inputs import load_run
    from analytics.report import ReportOptions, build_report
    from analytics.uplift import read_crm

    options = ReportOptions(k=args.k, timezone=args.timezone or "UTC")
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
