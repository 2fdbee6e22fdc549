"""Load a run directory of any kind into the same frames.

Three kinds of run, told apart by their files:

- a **simulation** (``instore simulate``): ``truth.parquet`` (t, device_id, x, y) with
  ``visits.parquet``, ``dwells.parquet`` and ``zone_visits.parquet`` when present;
- a **locate** output (``instore locate``): ``positions.csv`` and ``events.jsonl``;
- the **live archive** (``instore archive``): Parquet partitioned by ``store=`` and ``date=``.

Positions always come out as ``t_s`` (float64), ``device_id`` (category), ``x_m``, ``y_m``,
sorted by time; visits, zone visits and dwells as interval frames (see
:mod:`analytics.intervals`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics.archive import load_archive
from analytics.columns import (
    FLAG_COLUMNS,
    all_devices,
    frame_of_columns,
    intervals_frame,
    pick,
    position_columns,
    positions_frame,
    roles_of,
)
from analytics.errors import RunInputError
from analytics.eventlog import read_events
from analytics.intervals import empty_intervals, zone_runs
from analytics.run import RunData
from positioning.errors import LayoutError
from positioning.layout import Layout, load_layout
from sim.runfolder import find_table

#: The simulator's agent kinds, as roles.
KIND_ROLES = {"shopper": "visitor", "visitor": "visitor", "passerby": "passerby", "staff": "staff"}
#: A track sample stands for at most this long when zone visits are derived from it;
#: longer silences end the zone visit (the engine's own exit timeout is of this order).
ZONE_RUN_MAX_GAP_S = 10.0


def detect_kind(path: Path) -> str:
    if not path.is_dir():
        raise RunInputError(
            str(path), "", "not a directory (give a simulation, locate or archive directory)"
        )
    if (path / "positions.csv").exists() or (path / "events.jsonl").exists():
        return "locate"
    if (path / "truth.parquet").exists() or (path / "truth.csv").exists():
        return "simulation"
    if any(path.glob("**/store=*")):
        return "archive"
    raise RunInputError(
        str(path),
        "",
        "is not a run: expected truth.parquet (simulation), positions.csv + events.jsonl "
        "(instore locate) or store=/date= partitions (instore archive)",
    )


def load_run(path: str | Path, store: str | Path | None = None) -> RunData:
    """Load any run directory; ``store`` is the layout TOML (default: named in meta.json)."""
    p = Path(path)
    kind = detect_kind(p)
    meta = _read_meta(p)
    if kind == "archive":
        return load_archive(p, _layout(p, store, meta), meta)
    layout = _layout(p, store, meta)
    if kind == "simulation":
        return _load_simulation(p, layout, meta)
    return _load_locate(p, layout, meta)


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / "meta.json"
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RunInputError(str(meta_path), "", f"not readable JSON: {e}") from e
    return meta if isinstance(meta, dict) else {}


def _layout(path: Path, store: str | Path | None, meta: dict[str, Any]) -> Layout:
    if store is None:
        store = _store_from_meta(path, meta)
    if store is None:
        raise RunInputError(
            str(path), "--store", "no meta.json names the store layout: give --store FILE"
        )
    try:
        return load_layout(store)
    except LayoutError as e:
        raise RunInputError(str(store), "--store", str(e)) from e


def _store_from_meta(path: Path, meta: dict[str, Any]) -> Path | None:
    for key in ("store_path", "layout_path", "store", "layout"):
        value = meta.get(key)
        if isinstance(value, dict):
            value = value.get("file") or value.get("path") or value.get("source")
        if isinstance(value, str) and value.endswith(".toml"):
            for candidate in (Path(value), path / value, path.parent / value):
                if candidate.exists():
                    return candidate
    return None


def _read_table(path: Path) -> pa.Table:
    """A Parquet or CSV table (the simulator writes either); ids stay strings."""
    try:
        if path.suffix == ".csv":
            with open(path, encoding="utf-8") as f:
                header = [c.strip().strip('"') for c in f.readline().strip().split(",")]
            strings = {
                c: pa.string() for c in header if c in ("device_id", "zone", "kind", "persona")
            }
            return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=strings))
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise RunInputError(str(path), "", f"not a readable table: {e}") from e


def _sim_file(path: Path, name: str) -> Path | None:
    return find_table(path, name)


def _window(meta: dict[str, Any], positions: pd.DataFrame) -> tuple[float, float]:
    """The simulated time window from meta.json, else the span of the truth."""
    t0, span = meta.get("start_s"), meta.get("duration_s")
    if isinstance(t0, int | float) and isinstance(span, int | float):
        return float(t0), float(t0) + float(span)
    t = positions["t_s"]
    return (float(t.min()), float(t.max())) if len(t) else (0.0, 0.0)


def _load_simulation(path: Path, layout: Layout, meta: dict[str, Any]) -> RunData:
    truth_path = _sim_file(path, "truth")
    assert truth_path is not None  # detect_kind found it
    positions = positions_frame(_read_table(truth_path), str(truth_path))
    window = _window(meta, positions)
    notes: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    explicit: pd.Series | None = None
    for name, has_zone in (("visits", False), ("zone_visits", True), ("dwells", True)):
        f = _sim_file(path, name)
        if f is None:
            frames[name] = empty_intervals()
            continue
        raw = _read_table(f).to_pandas()
        role = pick(raw.columns, "role", str(f), required=False) if name == "visits" else None
        if role is not None:
            dev = str(pick(raw.columns, "device_id", str(f)))
            explicit = raw.groupby(raw[dev].astype(str))[role].first().astype(str).map(KIND_ROLES)
            raw = raw[raw[role].astype(str).map(KIND_ROLES) != "passerby"]
        frames[name] = intervals_frame(raw, str(f), has_zone, window)
    if _sim_file(path, "zone_visits") is None:
        frames["zone_visits"] = zone_runs(positions, layout, ZONE_RUN_MAX_GAP_S)
        notes.append("zone visits derived from the ground-truth tracks (no zone_visits file)")
    devices = all_devices(positions, *frames.values())
    visitors = set(frames["visits"]["device_id"].astype(str))
    return RunData(
        kind="simulation",
        source=str(path),
        store=layout.name,
        layout=layout,
        positions=positions,
        visits=frames["visits"],
        zone_visits=frames["zone_visits"],
        dwells=frames["dwells"],
        roles=roles_of(devices, visitors, explicit),
        notes=tuple(notes),
        meta=meta,
    )


#: Block size of the streaming CSV reader: bounds the reader's buffers (reading a 10-million
#: row file whole costs about 3x its size in memory; streamed, little more than the columns).
CSV_BLOCK_BYTES = 16 << 20


def read_positions_csv(path: Path) -> pd.DataFrame:
    """positions.csv (t, device_id, x, y, ...), streamed through Arrow's CSV reader."""
    try:
        with open(path, encoding="utf-8") as f:
            header = [c.strip().strip('"') for c in f.readline().strip().split(",")]
        dev = str(pick(header, "device_id", str(path)))
        numbers = [str(pick(header, k, str(path))) for k in ("t_s", "x_m", "y_m")]
        flags = [c for c in FLAG_COLUMNS if c in header]
        types: dict[str, pa.DataType] = {c: pa.float64() for c in numbers}
        types.update({c: pa.int8() for c in flags})
        # ids stay strings ("007"), dictionary-encoded: a day repeats each id ~10^4 times
        types[dev] = pa.dictionary(pa.int32(), pa.string())
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                include_columns=[*numbers, dev, *flags], column_types=types
            ),
        )
        table = pa.Table.from_batches(list(reader), schema=reader.schema)
    except (OSError, pa.ArrowInvalid) as e:
        raise RunInputError(str(path), "", f"not a readable positions CSV: {e}") from e
    columns = position_columns(table, str(path))
    del table  # the Arrow copy goes before the frame is built
    return frame_of_columns(columns)


def _flagged_staff(positions: pd.DataFrame) -> pd.Series | None:
    """Devices the engine flagged as staff in any sample."""
    if "staff" not in positions.columns:
        return None
    codes = np.unique(positions["device_id"].cat.codes.to_numpy()[positions["staff"].to_numpy()])
    ids = positions["device_id"].cat.categories[codes].astype(str)
    return pd.Series("staff", index=ids, dtype=object)


def _load_locate(path: Path, layout: Layout, meta: dict[str, Any]) -> RunData:
    for name in ("positions.csv", "events.jsonl"):
        if not (path / name).exists():
            raise RunInputError(
                str(path / name),
                "",
                "missing: an instore locate directory has positions.csv and events.jsonl",
            )
    positions = read_positions_csv(path / "positions.csv")
    ev = read_events(str(path / "events.jsonl"))
    notes = []
    if ev.malformed:
        line, reason = ev.malformed[0]
        notes.append(
            f"{len(ev.malformed)} event lines were not presence events and were skipped (first: line {line}: {reason})"
        )
    if ev.duplicates:
        notes.append(f"{ev.duplicates} repeated events (same id) counted once")
    devices = all_devices(positions, ev.visits, ev.zone_visits, ev.dwells)
    return RunData(
        kind="locate",
        source=str(path),
        store=layout.name,
        layout=layout,
        positions=positions,
        visits=ev.visits,
        zone_visits=ev.zone_visits,
        dwells=ev.dwells,
        roles=roles_of(devices, set(ev.entered), _flagged_staff(positions)),
        notes=tuple(notes),
        meta=meta,
    )
