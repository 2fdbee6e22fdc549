"""The live archive written by ``instore archive`` (presence/services/archive.py), as a run.

Layout: ``DIR/events/store=<name>/date=<YYYY-MM-DD>/part-*.parquet`` (id, type, device_id,
time_s, detected_at_s, x_m, y_m, zone, duration_s) and ``DIR/positions/store=.../date=...``
(device_id, t_s, x_m, y_m, zone, sigma_m). The store's partitions are picked by the layout's
name; every date is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.columns import all_devices, frame_of_columns, position_columns, roles_of
from analytics.errors import RunInputError
from analytics.eventlog import intervals_of_frame
from analytics.intervals import empty_intervals
from analytics.run import RunData
from positioning.layout import Layout

EVENT_COLUMNS = ("id", "type", "device_id", "time_s", "zone", "duration_s")
POSITION_COLUMNS = ("t_s", "device_id", "x_m", "y_m")


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("date=*/*.parquet")) if folder.is_dir() else []


def _read(files: list[Path], columns: tuple[str, ...]) -> pa.Table:
    tables = []
    for f in files:
        try:
            tables.append(pq.read_table(f, columns=list(columns)))
        except (OSError, pa.ArrowInvalid, KeyError) as e:
            raise RunInputError(str(f), "", f"not a readable archive part: {e}") from e
    return pa.concat_tables(tables, promote_options="permissive")


def load_archive(path: Path, layout: Layout, meta: dict[str, Any]) -> RunData:
    root = path.parent if path.name in ("events", "positions") else path
    store = layout.name
    event_files = _parts(root / "events" / f"store={store}")
    position_files = _parts(root / "positions" / f"store={store}")
    if not event_files and not position_files:
        found = sorted({p.name for p in root.glob("*/store=*")})
        raise RunInputError(
            str(root),
            "--store",
            f"no archive partition store={store} (found: {', '.join(found) or 'none'})",
        )
    if position_files:
        positions = frame_of_columns(
            position_columns(_read(position_files, POSITION_COLUMNS), str(root / "positions"))
        )
    else:
        positions = frame_of_columns(
            {
                "t_s": np.zeros(0),
                "device_id": pd.Categorical([]),
                "x_m": np.zeros(0),
                "y_m": np.zeros(0),
            }
        )
    notes = [f"archive: {len(event_files)} event parts, {len(position_files)} position parts"]
    if event_files:
        events = (
            _read(event_files, EVENT_COLUMNS).to_pandas().rename(columns={"device_id": "subject"})
        )
        ev = intervals_of_frame(events)
        if ev.duplicates:
            notes.append(f"{ev.duplicates} repeated events (same id) counted once")
        visits, zone_visits, dwells, entered = ev.visits, ev.zone_visits, ev.dwells, set(ev.entered)
    else:
        visits = zone_visits = dwells = empty_intervals()
        entered = set()
        notes.append("the archive holds no events: no visits, zones or flows")
    devices = all_devices(positions, visits, zone_visits, dwells)
    return RunData(
        kind="archive",
        source=str(root),
        store=store,
        layout=layout,
        positions=positions,
        visits=visits,
        zone_visits=zone_visits,
        dwells=dwells,
        roles=roles_of(devices, entered),
        notes=tuple(notes),
        meta=meta,
    )
