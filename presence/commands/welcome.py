"""``instore welcome``: the welcome service: at most one relevant, consented message per visit."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from presence.bus import BusClient
from presence.commands._bus_args import add_broker_args, broker_url, bus_config
from presence.commands._crm_args import add_crm_arg, store_name
from presence.crm.store import CrmStore
from presence.errors import UsageError
from presence.welcome import policy
from presence.welcome.outbox import OutboxMessage
from presence.welcome.service import RESEND_EVERY_S, SERVICE_NAME, AfterCommit, WelcomeService

#: Fault injection for the crash test (tests/presence/test_welcome_crash.py): with
#: this set to "kill-after-commit" the process kills itself (SIGKILL) right after it
#: committed a message and before publishing it. A boundary fault, not a mode.
FAULT_ENV = "INSTORE_FAULT_WELCOME"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "welcome",
        help="welcome service: store.enter events -> at most one consented welcome per visit",
        description=(
            "Subscribes to a store's presence events; on store.enter (and with --on-dwell on "
            "dwell.start, for product information at the shelf) decides with the welcome policy "
            "(marketing consent at that moment, one per visit, cooldown, caps, quiet hours, "
            "staff never, control group), records every decision with its reason in the CRM, "
            "and publishes messages on instore/v1/<store>/messages/<device> exactly once, "
            "even across crashes and restarts. Defaults: docs/consent-and-welcome.md."
        ),
    )
    p.add_argument("--store", required=True, metavar="S", help="store name or layout TOML")
    add_crm_arg(p)
    p.add_argument("--on-dwell", action="store_true", help="also decide on dwell.start in a zone")
    g = p.add_argument_group("policy (defaults in docs/consent-and-welcome.md)")
    g.add_argument(
        "--cooldown-h",
        type=float,
        default=policy.DEFAULT_COOLDOWN_S / 3600,
        help="hours between two welcomes to one customer (default %(default)s)",
    )
    g.add_argument(
        "--daily-cap",
        type=int,
        default=policy.DEFAULT_DAILY_CAP,
        help="welcomes per calendar day (default %(default)s)",
    )
    g.add_argument(
        "--weekly-cap",
        type=int,
        default=policy.DEFAULT_WEEKLY_CAP,
        help="welcomes per 7 days (default %(default)s)",
    )
    g.add_argument(
        "--quiet-hours",
        metavar="FROM-TO",
        default=f"{policy.DEFAULT_QUIET_START_HOUR}-{policy.DEFAULT_QUIET_END_HOUR}",
        help="no messages between these local hours (default %(default)s; 0-0: none)",
    )
    g.add_argument(
        "--timezone",
        default=policy.DEFAULT_TIMEZONE,
        help="the store's time zone (default %(default)s)",
    )
    g.add_argument(
        "--control-share",
        type=float,
        default=policy.DEFAULT_CONTROL_SHARE,
        help="share of customers held out to measure uplift (default %(default)s)",
    )
    p.add_argument(
        "--for",
        dest="for_s",
        type=float,
        metavar="SECONDS",
        help="stop after this long (scripts, tests)",
    )
    add_broker_args(p)
    p.set_defaults(func=run)


def policy_params(args: argparse.Namespace) -> policy.PolicyParams:
    try:
        start, end = (int(h) for h in args.quiet_hours.split("-"))
        return policy.PolicyParams(
            cooldown_s=args.cooldown_h * 3600.0,
            daily_cap=args.daily_cap,
            weekly_cap=args.weekly_cap,
            quiet_start_hour=start,
            quiet_end_hour=end,
            timezone=args.timezone,
            control_share=args.control_share,
        )
    except (ValueError, KeyError) as e:  # KeyError: zoneinfo's unknown zone
        raise UsageError(f"welcome policy: {e}") from e


def _fault_hook() -> AfterCommit | None:
    if os.environ.get(FAULT_ENV) != "kill-after-commit":
        return None

    def kill(committed: list[OutboxMessage]) -> None:
        if committed:
            os.kill(os.getpid(), signal.SIGKILL)

    return kill


def run(args: argparse.Namespace) -> int:
    params = policy_params(args)
    store = store_name(args.store)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = None if args.for_s is None else time.monotonic() + args.for_s
    with broker_url(args) as url, CrmStore(args.crm) as crm:
        cfg = bus_config(args, url)
        with BusClient(cfg, SERVICE_NAME, client_id=args.client_id, store=store) as bus:
            service = WelcomeService(
                bus, crm, store, params=params, on_dwell=args.on_dwell, after_commit=_fault_hook()
            )
            service.start()
            print(
                f"instore welcome: ready, store {store}, CRM {crm.safe_url}, bus {cfg.display_url}",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                serve(service.resend_pending, stop, deadline)
    counts = dict(sorted(service.decider.counts.items()))
    print(f"instore welcome: {dict(service.stats)}; decisions {counts}", file=sys.stderr)
    return 0


def serve(tick: Callable[[], object], stop: threading.Event, deadline: float | None) -> None:
    """Call ``tick`` every RESEND_EVERY_S until ``stop`` or the monotonic ``deadline``."""
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        wait_s = RESEND_EVERY_S if remaining is None else min(RESEND_EVERY_S, remaining)
        if stop.wait(wait_s):
            return
        tick()
