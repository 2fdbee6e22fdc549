"""``instore locate``: run the positioning engine over an observation log.

Writes ``positions.csv`` (one row per device per epoch while heard),
``events.jsonl`` (CloudEvents, one per line) and ``meta.json``, and prints a
summary: rows used and rejected (with line numbers), late rows, devices, visits
and events by type, and the throughput.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

from beacons.observation import ObservationBatch
from positioning.engine import Engine, EngineOutput
from positioning.layout import Layout, load_layout
from positioning.positions import COLUMNS, PositionRows
from positioning.registry import LOCATOR_NAMES
from presence.errors import UsageError
from sim.obslog import ObservationLog, read_observation_log

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
    with _Writer(out_dir) as writer:
        bar = tqdm(
            total=len(log.batch), unit="obs", unit_scale=True, disable=args.quiet, file=sys.stderr
        )
        with bar:
            for chunk in _chunks(log.batch, PUSH_ROWS):
                n_positions += writer.write(engine.push(chunk), counts)
                bar.update(len(chunk))
            n_positions += writer.write(engine.finish(), counts)
    elapsed = time.perf_counter() - started
    _write_meta(out_dir, args, layout, log, engine, counts)
    print(summary(log, engine, counts, n_positions, elapsed, out_dir))
    return 0


def _chunks(batch: ObservationBatch, size: int) -> Iterator[ObservationBatch]:
    for start in range(0, len(batch), size):
        yield batch.take(np.arange(start, min(start + size, len(batch))))


class _Writer:
    """positions.csv and events.jsonl written as the engine emits, atomically renamed at the end."""

    def __init__(self, out_dir: Path) -> None:
        self.paths = (out_dir / "positions.csv", out_dir / "events.jsonl")
        self._tmp = tuple(p.with_name(p.name + ".tmp") for p in self.paths)
        self._positions: TextIO | None = None
        self._events: TextIO | None = None

    def __enter__(self) -> _Writer:
        self._positions = self._tmp[0].open("w", encoding="utf-8", newline="")
        self._events = self._tmp[1].open("w", encoding="utf-8")
        self._positions.write(",".join(COLUMNS.values()) + "\n")
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._positions is not None and self._events is not None
        self._positions.close()
        self._events.close()
        for tmp, final in zip(self._tmp, self.paths, strict=True):
            if exc_type is None:
                os.replace(tmp, final)
            else:
                tmp.unlink(missing_ok=True)

    def write(self, out: EngineOutput, counts: Counter[str]) -> int:
        assert self._positions is not None and self._events is not None
        if len(out.positions):
            self._positions.write(_csv(out.positions))
        for event in out.events:
            self._events.write(json.dumps(event.to_cloudevent(), separators=(",", ":")) + "\n")
            counts[event.type] += 1
        return len(out.positions)


def _csv(rows: PositionRows) -> str:
    cols = [
        np.char.mod("%.3f", rows.t_s),
        rows.device_id,
        np.char.mod("%.3f", rows.x_m),
        np.char.mod("%.3f", rows.y_m),
        rows.zone,
        np.char.mod("%.3f", rows.sigma_m),
        rows.n_beacons.astype(str),
        np.where(rows.in_store, "1", "0"),
        np.where(rows.staff, "1", "0"),
    ]
    quoted = [_quote(c) for c in cols]
    lines = quoted[0]
    for c in quoted[1:]:
        lines = np.char.add(np.char.add(lines, ","), c)
    return "\n".join(lines.tolist()) + "\n"


def _quote(col: np.ndarray) -> np.ndarray:
    """CSV-quote string fields that need it (ids with commas or quotes)."""
    col = np.asarray(col, dtype=str)
    needs = np.char.find(col, ",") >= 0
    needs |= np.char.find(col, '"') >= 0
    if not needs.any():
        return col
    escaped = np.char.replace(col, '"', '""')
    return np.where(needs, np.char.add(np.char.add('"', escaped), '"'), col)


def _write_meta(
    out_dir: Path,
    args: argparse.Namespace,
    layout: Layout,
    log: ObservationLog,
    engine: Engine,
    counts: Counter[str],
) -> None:
    meta: dict[str, Any] = {
        "kind": "locate",
        "store": layout.name,
        "store_path": str(Path(args.store).resolve()),
        "observations": log.source,
        "locator": args.locator,
        "seed": args.seed,
        "params": _params_dict(engine),
        "rejected_rows": dict(log.rejected.counts),
        "out_of_order_rows": log.rejected.out_of_order,
        "engine": engine.stats,
        "events": dict(counts),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _params_dict(engine: Engine) -> dict[str, Any]:
    return dataclasses.asdict(engine.params)


def summary(
    log: ObservationLog,
    engine: Engine,
    counts: Counter[str],
    n_positions: int,
    elapsed_s: float,
    out_dir: Path,
) -> str:
    stats = engine.stats
    n_rows = len(log.batch) + log.rejected.total
    lines = [
        f"{log.source}: {n_rows:,} rows, {len(log.batch):,} usable, {log.rejected.total:,} rejected, "
        f"{log.rejected.out_of_order:,} out of order (re-sorted)",
    ]
    for reason, n in sorted(log.rejected.counts.items()):
        if n:
            where = [str(line) for line, r in log.rejected.examples if r == reason][:5]
            at = f" (lines {', '.join(where)}{', ...' if n > len(where) else ''})" if where else ""
            lines.append(f"  rejected {reason}: {n:,}{at}")
    if stats["rows_late"]:
        lines.append(
            f"  late (beyond the {engine.params.reorder_s:g} s reorder buffer, not used): {stats['rows_late']:,}"
        )
    rate = len(log.batch) / elapsed_s if elapsed_s > 0 else float("inf")
    lines += [
        f"locator {engine.locator_name}: {stats['devices']:,} devices, {n_positions:,} positions, "
        f"{stats['visits']:,} visits, {stats['staff_devices']:,} staff devices",
        "events: "
        + (
            ", ".join(f"{k.removeprefix('instore.')} {v:,}" for k, v in sorted(counts.items()))
            or "none"
        ),
        f"{elapsed_s:.1f} s, {rate:,.0f} observations/s -> {out_dir}/positions.csv, {out_dir}/events.jsonl",
    ]
    return "\n".join(lines)
