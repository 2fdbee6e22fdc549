"""``instore welcome``: the welcome service: at most one relevant, consented message per visit."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from functools import partial

from presence.commands._crm_args import add_service_args, run_service
from presence.errors import UsageError
from presence.welcome import policy
from presence.welcome.outbox import OutboxMessage
from presence.welcome.service import SERVICE_NAME, AfterCommit, WelcomeService

__all__ = ["FAULT_ENV", "policy_params", "register", "run"]

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
    add_service_args(p)
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
    make = partial(
        WelcomeService,
        params=policy_params(args),
        on_dwell=args.on_dwell,
        after_commit=_fault_hook(),
    )
    service = run_service(args, "welcome", SERVICE_NAME, make, tick=WelcomeService.resend_pending)
    counts = dict(sorted(service.decider.counts.items()))
    print(f"instore welcome: {dict(service.stats)}; decisions {counts}", file=sys.stderr)
    return 0
