"""The pre-aggregated daily table: per store and day, what a chain page needs.

Kept as Parquet beside the archive, in the archive's own partitioning::

    ARCHIVE/daily/<table>/store=<name>/date=<YYYY-MM-DD>/part-0.parquet

with the tables of :data:`analytics.queries.DAILY` (``d_store``, ``d_lengths``, ``d_hours``,
``d_zones``, ``d_cells``). A store-day is (re)computed when it has no daily part yet or one
of its archive parts is newer than it: :func:`refresh_daily` reads the positions of one date
at a time, its stores batched up to :data:`ROWS_PER_PASS` positions per pass, so its memory
is bounded by one busy store-day, never by the archive.

Keeping it up to date: ``instore archive`` appends new parts for the current day; calling
``refresh_daily(archive_dir)`` after a flush, say hourly and at exit, recomputes only the
store-days that changed (``instore archive`` does so hourly and on exit; see
docs/analytics.md). ``instore report ARCHIVE`` calls it before every report, so the page is
never stale.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics import queries
from analytics.engines import DuckDBEngine, Engine
from analytics.sources import ArchiveSource, Selection, Source

__all__ = [
    "DAILY_TABLES",
    "ROWS_PER_PASS",
    "DailyOptions",
    "prepare",
    "refresh_daily",
    "register_daily",
    "stale",
]

DAILY_TABLES = tuple(queries.DAILY)


@dataclass(frozen=True, slots=True)
class DailyOptions:
    """The floor grid of the heatmap cells, as :mod:`analytics.heatmap`'s defaults."""

    cell_m: float = 0.5
    max_gap_s: float = 5.0


def prepare(
    engine: Engine, source: Source, selection: Selection, options: DailyOptions | None = None
) -> None:
    """Register ``source`` and every view up to the daily relations, computed on the fly
    (one pass over the positions, materialised as the small :func:`queries.floor_cells`)."""
    o = options or DailyOptions()
    engine.register(source, selection)
    for name, sql in queries.VIEWS:
        engine.view(name, sql)
    engine.materialize("heard", queries.heard(engine.hash_fn))
    engine.materialize("floor_cells", queries.floor_cells(o.cell_m, o.max_gap_s, engine.hash_fn))
    engine.view("seen", queries.seen(engine.hash_fn))
    for name, sql in queries.DAILY.items():
        engine.view(name, sql)


def _newest(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.glob("*.parquet")), default=0.0)


def stale(archive: ArchiveSource, daily_root: Path, selection: Selection) -> dict[str, list[str]]:
    """date -> stores whose daily parts are missing or older than their archive parts."""
    out: dict[str, list[str]] = {}
    for kind in ("positions", "events"):
        for part in sorted(archive.folder(kind).glob("store=*/date=*")):
            store = part.parent.name.removeprefix("store=")
            date = part.name.removeprefix("date=")
            if selection.stores is not None and store not in selection.stores:
                continue
            day = dt.date.fromisoformat(date)
            if (selection.first and day < selection.first) or (
                selection.last and day > selection.last
            ):
                continue
            done = min(
                _newest(daily_root / t / f"store={store}" / f"date={date}") for t in DAILY_TABLES
            )
            if _newest(part) > done and store not in out.get(date, []):
                out.setdefault(date, []).append(store)
    return out


def _write_partitions(table: pa.Table, folder: Path, stores: list[str], date: str) -> None:
    """One part per store of ``date``, written atomically (tmp + rename); every stale store
    gets a part, empty when it had no rows, so it is not recomputed again. A visit that
    crossed midnight is in the part of its exit's date, with the day it started."""
    body = table.drop_columns(["store"])
    for store in stores:
        mask = pc.equal(table.column("store"), store)
        out = folder / f"store={store}" / f"date={date}"
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".part-{uuid.uuid4().hex[:8]}.tmp"
        pq.write_table(body.filter(mask), tmp)
        os.replace(tmp, out / "part-0.parquet")


def refresh_daily(
    root: str | Path,
    engine: Engine | None = None,
    selection: Selection | None = None,
    options: DailyOptions | None = None,
    daily_root: str | Path | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> int:
    """Recompute the stale store-days of the archive at ``root``; returns how many. Without
    an ``engine``, a DuckDB one for the call: ``refresh_daily(archive_dir)`` is all that
    ``instore archive`` needs to call after a flush."""
    archive = ArchiveSource(Path(root))
    target = Path(daily_root) if daily_root is not None else archive.root / "daily"
    todo = stale(archive, target, selection or Selection())
    if not todo:
        return 0
    if engine is None:
        own = DuckDBEngine()
        try:
            return refresh_daily(root, own, selection, options, daily_root, progress)
        finally:
            own.close()
    done = 0
    for date, stores in sorted(todo.items()):
        day = dt.date.fromisoformat(date)
        for batch in _batches(archive, date, stores):
            progress(f"daily {date} ({', '.join(batch)})")
            prepare(engine, archive, Selection(tuple(batch), day, day), options)
            for name in DAILY_TABLES:
                table = engine.table(f"SELECT * FROM {name}")
                _write_partitions(table, target / name, batch, date)
            done += len(batch)
    return done


#: Positions sorted in one pass at most (a busy store-day is about 10 M): a whole date of
#: busy stores at once made the window spill past the memory limit (twice as slow), and a
#: pass per small store-day paid a second of overhead each; so stores of a date are batched.
ROWS_PER_PASS = 12_000_000


def _rows(archive: ArchiveSource, store: str, date: str) -> int:
    folder = archive.folder("positions") / f"store={store}" / f"date={date}"
    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))


def _batches(archive: ArchiveSource, date: str, stores: list[str]) -> list[list[str]]:
    """The stale stores of ``date`` in batches of at most :data:`ROWS_PER_PASS` positions
    (a store larger than that alone), read from the Parquet footers."""
    out: list[list[str]] = []
    rows = 0
    for store in stores:
        n = _rows(archive, store, date)
        if not out or rows + n > ROWS_PER_PASS:
            out.append([])
            rows = 0
        out[-1].append(store)
        rows += n
    return out


def register_daily(engine: Engine, daily_root: Path, selection: Selection) -> None:
    """The daily relations d_* over the Parquet daily table, pruned to ``selection``."""
    for name in DAILY_TABLES:
        engine.parquet(name, daily_root / name, "*", selection)
