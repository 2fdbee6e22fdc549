"""Observation log I/O (ARCHITECTURE 3.2): read and write CSV or Parquet logs.

A log has columns ``t`` (epoch seconds), ``device_id``, ``beacon_id`` (strings, even
when they look like numbers) and ``rssi`` (dBm); extra columns are ignored. Rows
that cannot be used are counted by reason and reported with their line number,
never fatal. Only a file that cannot be used at all (missing, unreadable, without
the four columns) raises :class:`~sim.errors.ObservationLogError`.

Row checks, in order (a row gets the first reason that applies):
``invalid_id`` (a device or beacon id breaking the id rule of :mod:`beacons.validity`:
control characters, ``/ + #``, longer than 128 characters), ``missing_field`` (an empty
or null field), ``not_a_number`` (``t`` or ``rssi`` not a finite number),
``time_out_of_range`` (``t`` not within 1970..2100, :mod:`beacons.validity`), ``rssi_out_of_range`` (not -127 <= rssi < 0), ``unknown_beacon``
(not in ``beacon_ids`` when given), ``duplicate`` (same t, device and beacon as an
earlier usable row: a radio cannot report one beacon twice at the same instant).
Parquet rows in a corrupt page are ``unreadable_data`` (counted from the first row lost to
the end of its row group; the next row group is read). CSV lines with the wrong number of
fields are ``malformed_line``; every line is one row, so
a quote left open spoils only its own line. Rows earlier than
a previous row are kept, re-sorted and counted in ``out_of_order``. An empty
(0-byte) file is an empty log: a recorder that has heard nothing yet.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from beacons.observation import ObservationBatch
from beacons.streamclock import StreamClock
from beacons.validity import EARLIEST_T_S, LATEST_T_S, rssi_is_valid
from sim._rawlog import RawChunk, csv_chunks, parquet_chunks
from sim.errors import ObservationLogError
from sim.runfolder import find_table

__all__ = [
    "REASONS",
    "ObservationLog",
    "ObservationLogWriter",
    "RejectedRows",
    "iter_observation_log",
    "read_observation_log",
    "resolve_log_path",
    "write_observation_log",
]

REASONS = (
    "invalid_id",
    "missing_field",
    "not_a_number",
    "time_out_of_range",
    "rssi_out_of_range",
    "unknown_beacon",
    "duplicate",
    "malformed_line",
    "unreadable_data",
)
#: How many (line, reason) examples a report keeps.
MAX_EXAMPLES = 20
#: Duplicates are looked for across chunk boundaries within this many seconds.
DUPLICATE_CARRY_S = 5.0


@dataclass(frozen=True, slots=True)
class RejectedRows:
    """Rows that could not be used, by reason, with the first few line numbers.

    Lines are 1-based and count the header for CSV; for Parquet they are 0-based row indexes.
    """

    counts: dict[str, int]
    examples: tuple[tuple[int, str], ...]
    out_of_order: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def none(cls) -> RejectedRows:
        return cls({}, (), 0)

    def merged(self, other: RejectedRows) -> RejectedRows:
        counts = dict(self.counts)
        for reason, n in other.counts.items():
            counts[reason] = counts.get(reason, 0) + n
        examples = (self.examples + other.examples)[:MAX_EXAMPLES]
        return RejectedRows(counts, examples, self.out_of_order + other.out_of_order)


@dataclass(frozen=True, slots=True)
class ObservationLog:
    batch: ObservationBatch  # usable rows, stably sorted by t
    rejected: RejectedRows
    source: str


def resolve_log_path(path: str | Path) -> Path:
    """The log file itself, or a simulation directory's observations.parquet / .csv."""
    p = Path(path)
    if p.is_dir():
        found = find_table(p, "observations")
        if found is None:
            raise ObservationLogError(str(p), "directory holds no observations.parquet or .csv")
        return found
    if not p.exists():
        raise ObservationLogError(str(p), "no such file")
    if p.suffix.lower() not in (".csv", ".parquet"):
        raise ObservationLogError(str(p), f"unknown log format {p.suffix!r}: use .csv or .parquet")
    return p


def read_observation_log(
    path: str | Path, beacon_ids: Collection[str] | None = None
) -> ObservationLog:
    """The whole log in memory, usable rows stably sorted by time."""
    p = resolve_log_path(path)
    batches: list[ObservationBatch] = []
    rejected = RejectedRows.none()
    for batch, rej in iter_observation_log(p, beacon_ids):
        batches.append(batch)
        rejected = rejected.merged(rej)
    merged = _concat(batches).sorted_by_time()
    return ObservationLog(merged, rejected, str(p))


def iter_observation_log(
    path: str | Path, beacon_ids: Collection[str] | None = None, chunk_rows: int = 1_000_000
) -> Iterator[tuple[ObservationBatch, RejectedRows]]:
    """The log chunk by chunk, each chunk's usable rows stably sorted by time.

    Memory stays bounded by ``chunk_rows``. Rows out of order across chunk boundaries
    are counted but can only be re-sorted within their chunk.
    """
    p = resolve_log_path(path)
    chunks = (
        parquet_chunks(p, chunk_rows)
        if p.suffix.lower() == ".parquet"
        else csv_chunks(p, chunk_rows)
    )
    cleaner = _Cleaner(None if beacon_ids is None else np.asarray(sorted(beacon_ids), dtype=str))
    for raw in chunks:
        yield cleaner.clean(raw)


class _Cleaner:
    """Row checks with the state carried between chunks (running max t, recent keys)."""

    def __init__(self, beacon_ids: npt.NDArray[np.str_] | None) -> None:
        self.beacon_ids = beacon_ids
        self.max_t = -np.inf
        # One row dated years ahead would close every visit at its time (issue 18, finding 2).
        self.clock = StreamClock(wall_clock=None)
        self.recent: tuple[npt.NDArray[np.float64], npt.NDArray[np.str_], npt.NDArray[np.str_]] = (
            np.empty(0),
            np.empty(0, dtype=str),
            np.empty(0, dtype=str),
        )

    def clean(self, raw: RawChunk) -> tuple[ObservationBatch, RejectedRows]:
        reason = np.full(len(raw.t), "", dtype=object)
        t = _to_float(raw.t)
        rssi = _to_float(raw.rssi)
        if raw.invalid_id is not None:
            _mark(reason, raw.invalid_id, "invalid_id")
        missing = raw.missing_t | raw.missing_rssi | _empty(raw.device_id) | _empty(raw.beacon_id)
        _mark(reason, missing, "missing_field")
        _mark(reason, ~np.isfinite(t) | ~np.isfinite(rssi), "not_a_number")
        with np.errstate(invalid="ignore"):
            _mark(reason, (t <= EARLIEST_T_S) | (t >= LATEST_T_S), "time_out_of_range")
        _mark(reason, ~rssi_is_valid(rssi), "rssi_out_of_range")
        if self.beacon_ids is not None:
            _mark(reason, ~np.isin(raw.beacon_id, self.beacon_ids), "unknown_beacon")
        _mark(reason, self._duplicates(t, raw, reason == ""), "duplicate")
        usable = np.flatnonzero(reason == "")
        far = ~self.clock.admit_many(t[usable], raw.device_id[usable].astype(str))
        ahead = np.zeros(len(t), dtype=bool)
        ahead[usable[far]] = True
        _mark(reason, ahead, "time_out_of_range")
        ok = reason == ""
        rejected = _report(reason, raw.line, raw.malformed_lines, raw.unreadable)
        tt = t[ok]
        running = np.maximum.accumulate(np.concatenate([[self.max_t], tt]))[:-1]
        late = int(np.count_nonzero(tt < running))
        if len(tt):
            self.max_t = max(self.max_t, float(tt.max()))
        batch = ObservationBatch(
            tt, raw.device_id[ok].astype(str), raw.beacon_id[ok].astype(str), rssi[ok]
        ).sorted_by_time()
        return batch, RejectedRows(rejected.counts, rejected.examples, late)

    def _duplicates(
        self, t: npt.NDArray[np.float64], raw: RawChunk, usable: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Usable rows repeating (t, device, beacon) of an earlier row, this chunk or recent.

        Only rows sharing their time with another row can be duplicates, so the exact
        comparison runs on those few.
        """
        idx = np.flatnonzero(usable)
        rt, rd, rb = self.recent
        ct = np.concatenate([rt, t[idx]])
        cd = np.concatenate([rd, raw.device_id[idx]]).astype(str)
        cb = np.concatenate([rb, raw.beacon_id[idx]]).astype(str)
        order = np.argsort(ct, kind="stable")
        equal = ct[order][1:] == ct[order][:-1]
        shared = np.zeros(len(ct), dtype=bool)
        shared[order[1:][equal]] = True
        shared[order[:-1][equal]] = True
        dup = np.zeros(len(ct), dtype=bool)
        cand = np.flatnonzero(shared)
        if len(cand):
            frame = pd.DataFrame({"t": ct[cand], "d": cd[cand], "b": cb[cand]})
            dup[cand] = frame.duplicated(keep="first").to_numpy()
        out = np.zeros(len(t), dtype=bool)
        out[idx[dup[len(rt) :]]] = True
        if len(ct):
            keep = ~dup & (ct >= ct.max() - DUPLICATE_CARRY_S)
            self.recent = (ct[keep], cd[keep], cb[keep])
        return out


def _to_float(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    if values.dtype.kind == "f":
        return np.asarray(values, dtype=np.float64)
    if values.dtype.kind == "U":
        try:  # the common case: every field is a number
            return np.asarray(values.astype(np.float64))
        except ValueError:
            pass
    return np.asarray(
        pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), dtype=np.float64
    )


def _empty(ids: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
    return np.asarray(ids == "")


def _mark(reason: npt.NDArray[np.object_], mask: npt.NDArray[np.bool_], name: str) -> None:
    reason[mask & (reason == "")] = name


def _report(
    reason: npt.NDArray[np.object_],
    line: npt.NDArray[np.int64],
    malformed: tuple[int, ...],
    unreadable: tuple[int, int] | None = None,
) -> RejectedRows:
    counts: dict[str, int] = {}
    bad = np.flatnonzero(reason != "")
    for name in REASONS:
        n = int(np.count_nonzero(reason[bad] == name))
        if n:
            counts[name] = n
    if malformed:
        counts["malformed_line"] = len(malformed)
    examples = [(int(line[i]), str(reason[i])) for i in bad[:MAX_EXAMPLES]]
    examples += [(n, "malformed_line") for n in malformed[:MAX_EXAMPLES]]
    if unreadable is not None:
        counts["unreadable_data"] = unreadable[1]
        examples.append((unreadable[0], "unreadable_data"))
    examples.sort()
    return RejectedRows(counts, tuple(examples[:MAX_EXAMPLES]))


def _concat(batches: list[ObservationBatch]) -> ObservationBatch:
    if not batches:
        return ObservationBatch.empty()
    return ObservationBatch(
        np.concatenate([b.t_s for b in batches]),
        np.concatenate([b.device_id for b in batches]).astype(str),
        np.concatenate([b.beacon_id for b in batches]).astype(str),
        np.concatenate([b.rssi_dbm for b in batches]),
    )


#: Arrow schema of the logs we write: t float64 epoch s, string ids, rssi float64 dBm.
LOG_SCHEMA = pa.schema(
    [
        ("t", pa.float64()),
        ("device_id", pa.string()),
        ("beacon_id", pa.string()),
        ("rssi", pa.float64()),
    ]
)


def batch_table(batch: ObservationBatch) -> pa.Table:
    return pa.table(
        [
            pa.array(batch.t_s, pa.float64()),
            pa.array(batch.device_id.astype(str), pa.string()),
            pa.array(batch.beacon_id.astype(str), pa.string()),
            pa.array(batch.rssi_dbm, pa.float64()),
        ],
        schema=LOG_SCHEMA,
    )


#: Fast zstd; dictionaries only where values repeat (ids, integer RSSI), not for unique times.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": ["device_id", "beacon_id", "rssi", "kind", "zone", "persona"],
}


class ObservationLogWriter:
    """Streams observation tables to ``path`` (.parquet or .csv) atomically.

    Rows go to a hidden temporary file next to ``path``; :meth:`close` renames it into
    place, :meth:`abort` (or an exception inside ``with``) removes it, so a reader never
    sees a half-written log.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fmt = self.path.suffix.lower()
        if self.fmt not in (".parquet", ".csv"):
            raise ObservationLogError(str(self.path), "log name must end in .parquet or .csv")
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._pq: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        if self.fmt == ".parquet":
            self._pq = pq.ParquetWriter(self.tmp, LOG_SCHEMA, **PARQUET_OPTIONS)
        else:
            options = pacsv.WriteOptions(quoting_style="needed")
            self._csv = pacsv.CSVWriter(str(self.tmp), LOG_SCHEMA, write_options=options)

    def write_table(self, table: pa.Table) -> None:
        """Append rows; the table must have :data:`LOG_SCHEMA` (string ids may be dictionary-encoded)."""
        table = table.cast(LOG_SCHEMA)
        if self._pq is not None:
            self._pq.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(table)

    def write(self, batch: ObservationBatch) -> None:
        self.write_table(batch_table(batch))

    def close(self) -> None:
        self._finish()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._finish()
        self.tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None

    def __enter__(self) -> ObservationLogWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_observation_log(path: str | Path, batch: ObservationBatch) -> None:
    """Write a whole batch to ``path`` (.parquet or .csv by suffix), atomically."""
    with ObservationLogWriter(path) as writer:
        writer.write(batch)
