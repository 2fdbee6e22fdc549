"""``instore crm-lookup``: staff alerts with a profile card, only for personalization consent."""

from __future__ import annotations

import argparse
import sys

from presence.commands._crm_args import add_service_args, run_service
from presence.services.staff import SERVICE_NAME, StaffLookupService

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "crm-lookup",
        help="CRM lookup: store.enter events -> staff alerts with profile cards (consent only)",
        description=(
            "Subscribes to a store's store.enter events. For a device linked to a customer with "
            "personalization consent at that moment, publishes a staff alert with the profile "
            "card (tier, recent purchases on every channel, click & collect orders ready, "
            "birthday) on instore/v1/<store>/staff/alerts, the only topic with personal data "
            "(restrict it with the broker's ACL). For everyone else: nothing."
        ),
    )
    add_service_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    service = run_service(args, "crm-lookup", SERVICE_NAME, StaffLookupService)
    print(f"instore crm-lookup: {dict(service.stats)}", file=sys.stderr)
    return 0
