"""Forget a customer: the profile, device links, consent, purchases, orders, messages,
decisions, visits, and archived rows of their devices.

The archive is pseudonymous (device ids only), so its rows are found through the
devices ever linked to the customer, rotated ones included: Parquet (the bus archive),
CSV (``positions.csv``) and JSON lines (``events.jsonl``, by ``subject``). Files are
rewritten atomically (temporary file + rename); a file left without rows keeps its
schema or header, so readers of the archive see the same files.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from presence.crm.errors import UnknownCustomerError
from presence.crm.schema import (
    PERSONAL_COLUMNS,
    customers,
    erasure_in_progress,
    erasures,
    metadata,
)
from presence.crm.store import CrmStore, devices_of

__all__ = [
    "ARCHIVE_ID_COLUMNS",
    "ARCHIVE_SUFFIXES",
    "DELETE_ORDER",
    "erase_archive",
    "erase_everyone",
    "ErasureReport",
    "forget",
]

#: Archive columns (or JSON fields) that hold a pseudonymous device id or a customer id.
ARCHIVE_ID_COLUMNS = ("device_id", "subject", "customer_id")
#: Archive files searched: the bus archive (Parquet) and `instore locate` outputs.
ARCHIVE_SUFFIXES = (".parquet", ".csv", ".jsonl")
#: Tables emptied before their parents so foreign keys hold at every statement;
#: must name every table of PERSONAL_COLUMNS (a test checks).
DELETE_ORDER = (
    "outbox",
    "decisions",
    "visits",
    "consent_ledger",
    "purchases",
    "orders",
    "customer_segments",
    "devices",
    "customers",
    "erasure_in_progress",  # last: the ledger's rows are gone, its trigger closes again
)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    customer_id: str
    device_ids: tuple[str, ...]
    rows_by_table: dict[str, int]
    archive_rows: int = 0
    archive_files: dict[str, int] = field(default_factory=dict)  # file -> rows removed

    @property
    def total_rows(self) -> int:
        return sum(self.rows_by_table.values()) + self.archive_rows


def forget(
    store: CrmStore, customer_id: str, *, archive_dirs: Collection[Path] = ()
) -> ErasureReport:
    """Erase everything that references ``customer_id``; raises if the id is unknown."""
    with store.begin() as conn:
        found = conn.execute(
            sa.select(customers.c.customer_id).where(customers.c.customer_id == customer_id)
        ).first()
        if found is None:
            raise UnknownCustomerError(customer_id)
        device_ids = devices_of(conn, customer_id)
        # the ledger's DELETE trigger lets this customer's rows go, in this transaction only
        conn.execute(erasure_in_progress.insert().values(customer_id=customer_id))
        removed = {name: _delete_rows(conn, name, customer_id, device_ids) for name in DELETE_ORDER}
        removed.pop("erasure_in_progress")
        conn.execute(
            erasures.insert().values(erased_wall_s=time.time(), rows_removed=sum(removed.values()))
        )
    archive_files: dict[str, int] = {}
    for directory in archive_dirs:
        archive_files.update(erase_archive(Path(directory), device_ids | {customer_id}))
    return ErasureReport(
        customer_id=customer_id,
        device_ids=tuple(sorted(device_ids)),
        rows_by_table=removed,
        archive_rows=sum(archive_files.values()),
        archive_files=archive_files,
    )


def erase_everyone(conn: sa.Connection) -> None:
    """Empty every CRM table (``crm seed --replace``, test set-ups): an erasure of every
    customer, so the consent ledger lets its rows go, in this transaction only."""
    conn.execute(
        erasure_in_progress.insert().from_select(
            ["customer_id"], sa.select(customers.c.customer_id)
        )
    )
    for table in reversed(metadata.sorted_tables):
        if table is not erasure_in_progress:
            conn.execute(table.delete())
    conn.execute(erasure_in_progress.delete())


def _delete_rows(conn: sa.Connection, name: str, customer_id: str, device_ids: set[str]) -> int:
    table = metadata.tables[name]
    conds = []
    for col in PERSONAL_COLUMNS[name]:
        if col == "customer_id":
            conds.append(table.c[col] == customer_id)
        elif device_ids:
            conds.append(table.c[col].in_(sorted(device_ids)))
    if not conds:
        return 0
    return int(conn.execute(table.delete().where(sa.or_(*conds))).rowcount or 0)


def _archive_files(directory: Path) -> Iterator[Path]:
    if directory.is_file():
        yield directory
        return
    for suffix in ARCHIVE_SUFFIXES:
        yield from sorted(p for p in directory.rglob(f"*{suffix}") if p.is_file())


def erase_archive(directory: Path, ids: Collection[str]) -> dict[str, int]:
    """Remove rows naming one of ``ids`` from every archive file under ``directory``
    (Parquet, CSV, JSON lines); returns rows removed per file (others are untouched)."""
    removed: dict[str, int] = {}
    if not ids:
        return removed
    wanted = frozenset(ids)
    erasers = {".parquet": _erase_parquet, ".csv": _erase_csv, ".jsonl": _erase_jsonl}
    for path in _archive_files(directory):
        eraser = erasers.get(path.suffix)
        n_hit = eraser(path, wanted) if eraser else 0
        if n_hit:
            removed[str(path)] = n_hit
    return removed


def _erase_parquet(path: Path, ids: frozenset[str]) -> int:
    columns = [c for c in pq.read_schema(path).names if c in ARCHIVE_ID_COLUMNS]
    if not columns:
        return 0
    table = pq.read_table(path)
    id_array = pa.array(sorted(ids), type=pa.string())
    hit = pa.array([False] * table.num_rows)
    for col in columns:
        values = pc.cast(table[col], pa.string())
        hit = pc.or_(hit, pc.fill_null(pc.is_in(values, value_set=id_array), False))
    n_hit = int(pc.sum(hit).as_py() or 0)
    if n_hit:
        tmp = _tmp(path)
        pq.write_table(table.filter(pc.invert(hit)), tmp)
        os.replace(tmp, path)
    return n_hit


def _erase_csv(path: Path, ids: frozenset[str]) -> int:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    columns = [c for c in frame.columns if c in ARCHIVE_ID_COLUMNS]
    if not columns:
        return 0
    hit = frame[columns].isin(ids).any(axis=1)
    n_hit = int(hit.sum())
    if n_hit:
        tmp = _tmp(path)
        frame[~hit].to_csv(tmp, index=False)
        os.replace(tmp, path)
    return n_hit


def _erase_jsonl(path: Path, ids: frozenset[str]) -> int:
    kept: list[str] = []
    n_hit = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and any(obj.get(c) in ids for c in ARCHIVE_ID_COLUMNS):
                n_hit += 1
            else:
                kept.append(line)
    if n_hit:
        tmp = _tmp(path)
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)
    return n_hit


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.erasing")
