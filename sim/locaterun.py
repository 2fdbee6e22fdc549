"""A locate run folder: what ``instore locate`` writes from the engine over an observation
log (``positions.csv``, ``events.jsonl``, ``meta.json``), and its summary for people.
:mod:`sim.scoring` reads such a folder back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from beacons.observation import ObservationBatch
from positioning.engine import Engine, EngineOutput
from positioning.layout import Layout
from positioning.positions import COLUMNS, PositionRows
from sim.obslog import ObservationLog

__all__ = ["LocateWriter", "chunks", "positions_csv", "summary", "write_meta"]


def chunks(batch: ObservationBatch, size: int) -> Iterator[ObservationBatch]:
    """``batch`` in consecutive pieces of ``size`` rows."""
    for start in range(0, len(batch), size):
        yield batch.take(np.arange(start, min(start + size, len(batch))))


class LocateWriter:
    """positions.csv and events.jsonl written as the engine emits, atomically renamed at the end."""

    def __init__(self, out_dir: Path) -> None:
        self.paths = (out_dir / "positions.csv", out_dir / "events.jsonl")
        self._tmp = tuple(p.with_name(p.name + ".tmp") for p in self.paths)
        self._positions: TextIO | None = None
        self._events: TextIO | None = None

    def __enter__(self) -> LocateWriter:
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
            self._positions.write(positions_csv(out.positions))
        for event in out.events:
            self._events.write(json.dumps(event.to_cloudevent(), separators=(",", ":")) + "\n")
            counts[event.type] += 1
        return len(out.positions)


def positions_csv(rows: PositionRows) -> str:
    """CSV lines (no header) of engine positions, in the columns of positions.csv."""
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


def write_meta(
    out_dir: Path,
    store_path: Path,
    layout: Layout,
    log: ObservationLog,
    engine: Engine,
    counts: Counter[str],
    *,
    locator: str,
    seed: int,
) -> None:
    """meta.json of a locate run: what ran on what, with the engine's parameters and counts."""
    meta: dict[str, Any] = {
        "kind": "locate",
        "store": layout.name,
        "store_path": str(Path(store_path).resolve()),
        "observations": log.source,
        "locator": locator,
        "seed": seed,
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
