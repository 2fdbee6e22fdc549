"""The ``instore`` command: discovers subcommands in :mod:`presence.commands`.

Errors of our packages print one line naming the file, line or field at fault and
exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import presence.commands
from analytics.errors import AnalyticsError
from beacons.errors import BeaconsError
from planning.errors import PlanningError
from positioning.errors import PositioningError
from presence.errors import PresenceError
from sim.errors import SimError

__all__ = [
    "USER_ERRORS",
    "command_modules",
    "build_parser",
    "main",
]


#: Every error a user can cause; shown as one line, not a traceback.
USER_ERRORS = (
    AnalyticsError,
    BeaconsError,
    PlanningError,
    PositioningError,
    PresenceError,
    SimError,
)


def command_modules() -> dict[str, str]:
    """Command name -> module name; a module ``crm_lookup`` serves ``instore crm-lookup``."""
    infos = pkgutil.iter_modules(presence.commands.__path__)
    return {m.name.replace("_", "-"): m.name for m in infos if not m.name.startswith("_")}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported (each command
    imports its heavy dependencies, so a process pays only for the one it runs)."""
    parser = argparse.ArgumentParser(
        prog="instore",
        description="BLE beacon in-store presence: simulate, locate, evaluate, replay and run the live pipeline.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = command_modules()
    names = [only] if only in modules else sorted(modules)
    for name in names:
        importlib.import_module(f"presence.commands.{modules[name]}").register(sub)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command_word(argv))
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = args.func(args)
    except USER_ERRORS as e:
        print(f"instore {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"instore {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
