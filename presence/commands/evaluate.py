"""``instore evaluate --truth SIMDIR --run LOCDIR``: accuracy of a locate run as JSON.

The scoring is :mod:`sim.scoring`; this module parses the arguments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# detected, load_truth and radio_model: benchmarks/accuracy.py still imports them from here.
from sim.scoring import (  # noqa: F401
    detected,
    evaluate_dirs,
    json_safe,
    load_truth,
    radio_model,
)

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="accuracy of a locate run against a simulation's ground truth (JSON)",
        description=(
            "Compare LOCDIR (instore locate output) with SIMDIR (instore simulate output) and "
            "print JSON: position error (median, p90, mean; all fixes, in store, street), zone "
            "accuracy, zone.enter events per true zone visit, dwell precision/recall/F1, store "
            "enter/exit recall, passers-by counted as visitors, enter/exit latency from "
            "data.detected_at, and the error's ratio to the Cramer-Rao bound when available."
        ),
    )
    p.add_argument("--truth", metavar="SIMDIR", required=True, help="simulation directory")
    p.add_argument("--run", metavar="LOCDIR", required=True, help="instore locate output directory")
    p.add_argument(
        "--store", metavar="S", help="store layout TOML (default: named in the metadata)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = evaluate_dirs(Path(args.truth), Path(args.run), args.store)
    print(json.dumps(json_safe(report), indent=2, allow_nan=False))
    return 0
