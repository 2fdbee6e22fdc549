"""``instore crm``: seed a synthetic CRM, show what it holds about someone, forget a customer."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from tqdm import tqdm

from presence.commands._crm_args import add_crm_arg
from presence.crm import consent, erase, profile, seed, simlink
from presence.crm.schema import decisions
from presence.crm.store import CrmStore
from presence.errors import UsageError

__all__ = [
    "register",
    "run_seed",
    "run_forget",
    "run_show",
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "crm",
        help="CRM: seed synthetic customers, show a customer, forget a customer (erasure)",
        description="The CRM behind staff alerts and welcome messages (docs/consent-and-welcome.md).",
    )
    sub = p.add_subparsers(dest="crm_command", metavar="ACTION", required=True)
    _register_seed(sub)
    _register_forget(sub)
    _register_show(sub)


def _register_seed(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "seed",
        help="fill the CRM with realistic synthetic customers linked to simulated devices",
        description=(
            "Synthetic customers (Dutch and English names, loyalty tiers, birthdays, segments), "
            "consent per purpose (marketing the rarest), purchases on web, app and in store, "
            "and open click & collect orders. Seeded: the same --seed gives the same CRM. "
            "Devices: a share of the visible shoppers of a simulation (--devices-from) and its "
            "staff, or ids from a pattern (--devices phone-{i:04d} --device-count 100)."
        ),
    )
    p.add_argument("--customers", type=int, required=True, metavar="N", help="number of customers")
    p.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default 0)")
    add_crm_arg(p)
    p.add_argument("--devices-from", metavar="SIMDIR", type=Path, help="simulation directory")
    p.add_argument(
        "--link-share",
        type=float,
        default=simlink.DEFAULT_LINK_SHARE,
        help="share of visible shoppers linked to a customer (default %(default)s)",
    )
    p.add_argument("--devices", metavar="PATTERN", help="device ids from a pattern with {i}")
    p.add_argument("--device-count", type=int, default=0, metavar="M", help="ids from --devices")
    p.add_argument("--staff-devices", metavar="PATTERN", help="staff device ids from a pattern")
    p.add_argument(
        "--staff-count", type=int, default=0, metavar="K", help="ids from --staff-devices"
    )
    p.add_argument(
        "--store",
        help="store name of in-store purchases and pickups (default: the simulation's, else demo-fashion)",
    )
    p.add_argument(
        "--as-of",
        metavar="TIME",
        help="ISO time the seeded history ends (default: the simulation's start)",
    )
    p.add_argument("--replace", action="store_true", help="empty the CRM first")
    p.set_defaults(func=run_seed)


def _register_forget(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "forget",
        help="erase a customer: profile, devices, consent, purchases, messages, archived rows",
        description=(
            "Right to erasure: removes every CRM row referencing the customer and, with "
            "--archive, every archived row (Parquet, CSV, JSON lines) of the devices ever linked to them. "
            "Reports what it removed."
        ),
    )
    p.add_argument("customer", metavar="CUSTOMER", help="customer id, e.g. C000042")
    add_crm_arg(p)
    p.add_argument(
        "--archive",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="archive directory: Parquet from `instore archive`, CSV/JSONL from `instore locate` (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_forget)


def _register_show(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "show", help="what the CRM holds about a customer or device, with consent history"
    )
    p.add_argument("who", metavar="CUSTOMER|DEVICE", help="customer id or device id")
    add_crm_arg(p)
    p.set_defaults(func=run_show)


def _as_of(args: argparse.Namespace, sim_start_s: float | None) -> float:
    if args.as_of:
        try:
            t = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
        except ValueError as e:
            raise UsageError(f"--as-of {args.as_of!r}: not an ISO time") from e
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return sim_start_s if sim_start_s is not None else seed.DEFAULT_AS_OF_S


def run_seed(args: argparse.Namespace) -> int:
    found = simlink.SimDevices((), (), None, None)
    if args.devices_from:
        found = simlink.devices_from_simdir(args.devices_from, args.link_share, args.seed)
    shoppers, staff = found.shoppers, found.staff
    if args.devices:
        shoppers += simlink.devices_from_pattern(args.devices, args.device_count)
    if args.staff_devices:
        staff += simlink.devices_from_pattern(args.staff_devices, args.staff_count)
    if args.customers < len(shoppers):
        print(
            f"instore crm seed: {len(shoppers)} devices, {args.customers} customers: linking {args.customers}",
            file=sys.stderr,
        )
    config = seed.SeedConfig(
        customers=args.customers,
        seed=args.seed,
        as_of_s=_as_of(args, found.start_s),
        store=args.store or found.store or seed.DEFAULT_STORE,
        device_ids=shoppers,
        staff_device_ids=staff,
        visit_purchases=found.checkouts,
    )
    with tqdm(total=2, desc="seeding the CRM", unit="step", file=sys.stderr) as bar:
        data = seed.generate(config)
        bar.update()
        with CrmStore(args.crm) as crm:
            written = seed.write(crm, data, replace=args.replace)
            where = crm.safe_url
        bar.update()
    print(
        f"seeded {where} (seed {args.seed}, history up to {datetime.fromtimestamp(config.as_of_s, UTC).isoformat()}):"
    )
    for table, n in written.items():
        print(f"  {table:18s} {n:8d}")
    return 0


def run_forget(args: argparse.Namespace) -> int:
    for directory in args.archive:
        if not directory.exists():
            raise UsageError(f"--archive {directory}: does not exist")
    with CrmStore(args.crm) as crm:
        report = erase.forget(crm, args.customer, archive_dirs=args.archive)
    if args.json:
        print(
            json.dumps(
                {
                    "customer_id": report.customer_id,
                    "device_ids": list(report.device_ids),
                    "rows_by_table": report.rows_by_table,
                    "archive_files": report.archive_files,
                    "total_rows": report.total_rows,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"forgot {report.customer_id} ({len(report.device_ids)} device id(s)): {report.total_rows} rows removed"
    )
    for table, n in report.rows_by_table.items():
        if n:
            print(f"  {table:18s} {n:8d}")
    for path, n in report.archive_files.items():
        print(f"  archive {path}: {n} rows")
    if args.archive and not report.archive_files:
        print("  archive: no rows of these devices")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with CrmStore(args.crm) as crm:
        customer = crm.customer_for_device(args.who) or args.who
        with crm.engine.connect() as conn:
            card = profile.card(conn, customer, None)
            if card is None:
                raise UsageError(f"{args.who!r} is neither a customer id nor a linked device")
            history = consent.history(conn, customer)
            made = conn.execute(
                sa.select(
                    decisions.c.decided_s,
                    decisions.c.outcome,
                    decisions.c.reason,
                    decisions.c.final_outcome,
                    decisions.c.final_reason,
                )
                .where(decisions.c.customer_id == customer)
                .order_by(decisions.c.decided_s.desc())
                .limit(10)
            ).all()
            state = consent.state_at(conn, customer, None)
    print(json.dumps(card, indent=2, ensure_ascii=False))
    print("consent now: " + ", ".join(f"{p} {'yes' if v else 'no'}" for p, v in state.items()))
    held: dict[str, bool] = {}
    for e in history:
        change = "granted" if e.granted else "withdrawn" if held.get(e.purpose) else "declined"
        held[e.purpose] = e.granted
        print(
            f"  {_consent_when(e)}  {e.purpose:15s} {change:9s} via {e.source} "
            f"(text {e.text_version}){_consent_note(e)}"
        )
    for d in made:
        when = datetime.fromtimestamp(d.decided_s, UTC).isoformat(timespec="seconds")
        end = f" -> {d.final_outcome} ({d.final_reason})" if d.final_outcome else ""
        pending = " -> pending" if d.outcome == "send" and not d.final_outcome else ""
        print(f"  welcome {when}: {d.outcome} ({d.reason}){end}{pending}")
    return 0


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="seconds")


def _consent_when(e: consent.ConsentEntry) -> str:
    """A ledger row's date: the database's (``recorded_s``), never one the writer chose."""
    return _iso(e.recorded_s) if e.recorded_s is not None else "not recorded (before v5)"


def _consent_note(e: consent.ConsentEntry) -> str:
    if e.recorded_s is None:
        return f"  [applies from {_iso(e.at_s)}: the writer's time, the ledger's own is unknown]"
    if e.declared_late_s:
        days = e.declared_late_s / 86_400.0
        return f"  [applies from {_iso(e.at_s)}: declared {days:.1f} d after the fact]"
    return ""
