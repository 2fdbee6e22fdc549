"""Where the query layer reads from: the live archive, or one run folder.

Every source becomes two relations with the same columns, whatever the engine:

- ``positions``: store, date_utc ('YYYY-MM-DD'), device_id, t_s, x_m, y_m
- ``events``: store, date_utc, id, type, device_id, time_s, zone, duration_s

An :class:`ArchiveSource` is Parquet partitioned ``store=<name>/date=<YYYY-MM-DD>`` (what
``instore archive`` writes); the engines read it in place and prune partitions by the
:class:`Selection`. A :class:`RunSource` is a simulation or locate folder, small enough to
load with :func:`analytics.inputs.load_run` and hand to the engine as Arrow tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from analytics.errors import RunInputError
from analytics.inputs import load_run
from analytics.run import without_staff
from positioning.events import DWELL_END, STORE_EXIT, ZONE_EXIT

__all__ = [
    "EVENT_COLUMNS",
    "POSITION_COLUMNS",
    "ArchiveSource",
    "RunSource",
    "Selection",
    "Source",
    "open_source",
]

POSITION_COLUMNS = ("store", "date_utc", "device_id", "t_s", "x_m", "y_m")
EVENT_COLUMNS = ("store", "date_utc", "id", "type", "device_id", "time_s", "zone", "duration_s")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which stores and days to read: None is every store / no bound. Days are UTC dates,
    both ends included."""

    stores: tuple[str, ...] | None = None
    first: dt.date | None = None
    last: dt.date | None = None

    def where(self, date_column: str = "date_utc") -> str:
        """The selection as a SQL condition on the partition columns (prunes files)."""
        terms = []
        if self.stores is not None:
            names = ", ".join(_literal(s) for s in self.stores)
            terms.append(f"store IN ({names})")
        if self.first is not None:
            terms.append(f"{date_column} >= '{self.first.isoformat()}'")
        if self.last is not None:
            terms.append(f"{date_column} <= '{self.last.isoformat()}'")
        return " AND ".join(terms) or "TRUE"

    def days(self) -> int | None:
        if self.first is None or self.last is None:
            return None
        return (self.last - self.first).days + 1


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class ArchiveSource:
    """``ROOT/positions`` and ``ROOT/events``, hive-partitioned by store and date."""

    root: Path

    def folder(self, kind: str) -> Path:
        return self.root / kind

    def has(self, kind: str) -> bool:
        return any(self.folder(kind).glob("store=*/date=*/*.parquet"))

    def stores(self) -> list[str]:
        found = {p.name.removeprefix("store=") for p in self.root.glob("*/store=*")}
        return sorted(found)

    def dates(self) -> list[dt.date]:
        found = {p.name.removeprefix("date=") for p in self.root.glob("*/store=*/date=*")}
        return sorted(dt.date.fromisoformat(d) for d in found)


@dataclass(frozen=True, slots=True)
class RunSource:
    """A simulation or locate folder as the two relations (staff left out, as in the report)."""

    positions: pa.Table
    events: pa.Table
    store: str


Source = ArchiveSource | RunSource


def open_source(path: str | Path, layout: str | Path | None = None) -> Source:
    """An archive (folders ``positions/`` or ``events/`` of ``store=`` partitions) or a run."""
    p = Path(path)
    if any(p.glob("positions/store=*")) or any(p.glob("events/store=*")):
        return ArchiveSource(p)
    if not p.is_dir():
        raise RunInputError(str(p), "", "not a directory (give an archive or a run folder)")
    return run_source(path, layout)


def _dates(t_s: np.ndarray) -> pa.Array:
    days = np.floor(np.asarray(t_s, dtype=np.float64) / 86400.0).astype("datetime64[D]")
    return pa.array(np.datetime_as_string(days, unit="D"), pa.string())


def run_source(path: str | Path, layout: str | Path | None = None) -> RunSource:
    """Load a run folder (pandas, in memory: one run is small) as the two relations; visits,
    zone visits and dwells become the closing events they stand for."""
    run = without_staff(load_run(path, layout))
    pos = run.positions
    n = len(pos)
    positions = pa.table(
        {
            "store": pa.array([run.store] * n, pa.string()),
            "date_utc": _dates(pos["t_s"].to_numpy()),
            "device_id": pa.array(pos["device_id"].astype(str).to_numpy(), pa.string()),
            "t_s": pa.array(pos["t_s"].to_numpy(np.float64)),
            "x_m": pa.array(pos["x_m"].to_numpy(np.float64)),
            "y_m": pa.array(pos["y_m"].to_numpy(np.float64)),
        }
    )
    parts = []
    for kind, frame in (
        (STORE_EXIT, run.visits),
        (ZONE_EXIT, run.zone_visits),
        (DWELL_END, run.dwells),
    ):
        m = len(frame)
        end = frame["end_s"].to_numpy(np.float64)
        zone = frame["zone"].astype(str).to_numpy() if kind != STORE_EXIT else [None] * m
        parts.append(
            pa.table(
                {
                    "store": pa.array([run.store] * m, pa.string()),
                    "date_utc": _dates(end),
                    "id": pa.array([f"{kind}:{i}" for i in range(m)], pa.string()),
                    "type": pa.array([kind] * m, pa.string()),
                    "device_id": pa.array(frame["device_id"].astype(str).to_numpy(), pa.string()),
                    "time_s": pa.array(end),
                    "zone": pa.array(zone, pa.string()),
                    "duration_s": pa.array(frame["duration_s"].to_numpy(np.float64)),
                }
            )
        )
    return RunSource(positions, pa.concat_tables(parts), run.store)
