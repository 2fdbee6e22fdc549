"""``instore locate``: run the positioning engine over an observation log.

Writes ``positions.csv`` (one row per device per epoch while heard),
``events.jsonl`` (CloudEvents, one per line) and ``meta.json``, and prints a
summary: rows used and rejected (with line numbers), late rows, devices, visits
and events by type, and the throughput.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from positioning.engine import Engine
from positioning.layout import load_layout
from positioning.registry import LOCATOR_NAMES
from presence.errors import UsageError
from sim.locaterun import LocateWriter, chunks, summary, write_meta
from sim.obslog import read_observation_log

__all__ = ["PUSH_ROWS", "register", "run"]

#: Rows per engine push: large enough for numpy to amortise, small enough for a live bar.
PUSH_ROWS = 200_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "locate",
        help="positions and presence events from an observation log",
        description=(
            "Run the positioning engine over an observation log (CSV or Parquet, or a "
            "simulation directory) and write DIR/positions.csv (t, device_id, x, y, zone, "
            "sigma_m, n_beacons, in_store, staff; one row per device per second while heard), "
            "DIR/events.jsonl (CloudEvents 1.0, one per line) and DIR/meta.json. Unusable rows "
            "are counted and reported with line numbers, never fatal."
        ),
    )
    p.add_argument("--store", metavar="S", required=True, help="store layout TOML")
    p.add_argument(
        "--observations", metavar="FILE", required=True, help="observation log or simulation dir"
    )
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    p.add_argument(
        "--locator",
        choices=LOCATOR_NAMES,
        default="tracker",
        help="positioning method (default: tracker, the particle filter; the others are baselines)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the tracker's particles (default 0)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = load_layout(args.store)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {out_dir}: exists and is not a directory")
    log = read_observation_log(args.observations, beacon_ids=layout.beacon_ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    engine = Engine(layout, locator=args.locator, seed=args.seed)
    counts: Counter[str] = Counter()
    n_positions = 0
    with LocateWriter(out_dir) as writer:
        bar = tqdm(
            total=len(log.batch), unit="obs", unit_scale=True, disable=args.quiet, file=sys.stderr
        )
        with bar:
            for chunk in chunks(log.batch, PUSH_ROWS):
                n_positions += writer.write(engine.push(chunk), counts)
                bar.update(len(chunk))
            n_positions += writer.write(engine.finish(), counts)
    elapsed = time.perf_counter() - started
    write_meta(
        out_dir, Path(args.store), layout, log, engine, counts, locator=args.locator, seed=args.seed
    )
    print(summary(log, engine, counts, n_positions, elapsed, out_dir))
    return 0
