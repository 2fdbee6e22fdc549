"""Engines that run the query layer's SQL: embedded DuckDB (the default) and Spark.

Both expose the same small face: :meth:`register` a source and a selection as the relations
``positions`` and ``events``, :meth:`view` to name a query, :meth:`table` to run one into an
Arrow table (results are aggregates: small). DuckDB runs out of core: a ``memory_limit``
bounds its memory and whatever does not fit is spilled to ``temp_directory``. Spark runs in
local mode by default, or on any cluster whose ``SparkSession`` is passed in
(docs/analytics.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from analytics.errors import AnalyticsError
from analytics.sources import EVENT_COLUMNS, POSITION_COLUMNS, ArchiveSource, Selection, Source

__all__ = [
    "DuckDBEngine",
    "Engine",
    "EngineError",
    "SparkEngine",
    "idle_cores",
    "make_engine",
    "partition_glob",
]

#: DuckDB's memory ceiling by default: leaves room under 1 GB for Python, Arrow results and
#: matplotlib in the same process.
DEFAULT_MEMORY_LIMIT = "500MB"

#: Archive columns as the query layer names them (the partition folder's ``date`` is
#: ``date_utc``: ``date`` is a type name in both SQL dialects).
_POSITIONS_SQL = "store, date AS date_utc, device_id, t_s, x_m, y_m"
_EVENTS_SQL = "store, date AS date_utc, id, type, device_id, time_s, zone, duration_s"


class EngineError(AnalyticsError):
    """An engine cannot start or a query failed; the message names the engine."""


class Engine(Protocol):
    name: str
    #: the dialect's 64-bit hash of one or more values (the heavy pass keys devices by it)
    hash_fn: str

    def register(self, source: Source, selection: Selection) -> None: ...

    def parquet(self, name: str, folder: Path, columns: str, selection: Selection) -> None: ...

    def register_table(self, name: str, table: pa.Table) -> None: ...

    def materialize(self, name: str, sql: str) -> None: ...

    def view(self, name: str, sql: str) -> None: ...

    def table(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


def _empty(columns: tuple[str, ...]) -> pa.Table:
    types = {"t_s": pa.float64(), "x_m": pa.float64(), "y_m": pa.float64()}
    types |= {"time_s": pa.float64(), "duration_s": pa.float64()}
    return pa.table({c: pa.array([], types.get(c, pa.string())) for c in columns})


def _register(engine: Engine, source: Source, selection: Selection) -> None:
    """The relations ``positions`` and ``events`` of ``source``, pruned to ``selection``."""
    for name, columns, sql_columns in (
        ("positions", POSITION_COLUMNS, _POSITIONS_SQL),
        ("events", EVENT_COLUMNS, _EVENTS_SQL),
    ):
        if isinstance(source, ArchiveSource) and source.has(name):
            engine.parquet(name, source.folder(name), sql_columns, selection)
            continue
        if isinstance(source, ArchiveSource):
            table = _empty(columns)
        else:
            table = source.positions if name == "positions" else source.events
        engine.register_table(f"{name}_table", table)
        engine.view(name, f"SELECT * FROM {name}_table WHERE {selection.where()}")


def idle_cores() -> int:
    """Cores not already busy (the 1-minute load average subtracted), at least one.

    Measured on this 2-core machine shared with other jobs (load 4-7): the cold pass ran
    in 6-10 s per 10 M-row store-day with one DuckDB thread against 9-11 s with two, whose
    window operator then fought the other jobs for the same cores; on an idle machine both
    cores are used."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not every platform reports a load average
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


_GLOB_CHARS = frozenset("*?[]{}")


def partition_glob(folder: Path, selection: Selection) -> Path:
    """The files of ``selection`` under a hive-partitioned ``folder``: one store's or one
    day's folder when the selection names one, so the engine lists only those files (with
    hundreds of store-days, listing and filtering every file per query cost a second per
    store-day); every file when that matches none or a name holds glob characters."""
    store, date = "store=*", "date=*"
    if selection.stores is not None and len(selection.stores) == 1:
        name = selection.stores[0]
        if not _GLOB_CHARS & set(name) and "/" not in name:
            store = f"store={name}"
    if selection.first is not None and selection.first == selection.last:
        date = f"date={selection.first.isoformat()}"
    narrow = folder / store / date / "*.parquet"
    if (store, date) != ("store=*", "date=*") and not any(folder.glob(f"{store}/{date}/*.parquet")):
        return folder / "store=*" / "date=*" / "*.parquet"
    return narrow


class DuckDBEngine:
    """Embedded DuckDB, out of core. ``threads`` defaults to :func:`idle_cores`."""

    name = "duckdb"
    hash_fn = "hash"

    def __init__(
        self,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        temp_directory: str | Path | None = None,
        threads: int | None = None,
        database: str = ":memory:",
    ) -> None:
        import duckdb

        self._tmp = None
        if temp_directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="instore-duckdb-")
            temp_directory = self._tmp.name
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "temp_directory": str(temp_directory),
            "threads": threads or idle_cores(),
            # order of rows within a result is set by ORDER BY; not keeping insertion order
            # lets DuckDB stream and spill more freely
            "preserve_insertion_order": False,
        }
        try:
            self.con = duckdb.connect(database, config=config)
        except duckdb.Error as e:
            raise EngineError(f"duckdb: cannot start: {e}") from e
        # a progress bar on stderr would garble the CLI's own; Jupyter refuses the setting
        with contextlib.suppress(duckdb.Error):
            self.con.execute("SET enable_progress_bar = false")

    def parquet(self, name: str, folder: Path, columns: str, selection: Selection) -> None:
        """View ``name`` over hive-partitioned Parquet under ``folder`` (store=/date=), pruned
        to ``selection``; ``columns`` may use ``store`` and ``date``."""
        pattern = str(partition_glob(folder, selection)).replace("'", "''")
        self.view(
            name,
            f"SELECT {columns} FROM read_parquet('{pattern}', hive_partitioning = true, "
            "hive_types = {'store': VARCHAR, 'date': VARCHAR}, union_by_name = true) "
            f"WHERE {selection.where('date')}",
        )

    def register(self, source: Source, selection: Selection) -> None:
        _register(self, source, selection)

    def materialize(self, name: str, sql: str) -> None:
        self._run(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS {sql}")

    def register_table(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def view(self, name: str, sql: str) -> None:
        self._run(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    def _run(self, sql: str) -> Any:
        import duckdb

        try:
            return self.con.execute(sql)
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}\n-- in: {sql[:400]}") from e

    def table(self, sql: str) -> pa.Table:
        import duckdb

        try:
            result: pa.Table = self.con.sql(sql).to_arrow_table()
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}\n-- in: {sql[:400]}") from e
        return result

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            self._tmp.cleanup()


class SparkEngine:
    """Spark SQL: local mode by default (``pip install -e ".[spark]"`` and a Java 17+
    runtime), or a given session on a cluster."""

    name = "spark"
    hash_fn = "xxhash64"

    def __init__(self, session: Any = None, master: str = "local[2]") -> None:
        try:
            with warnings.catch_warnings():
                # pyspark warns on import that it does not support pandas 3 fully; the
                # engine hands results over as Arrow, never through pandas
                warnings.simplefilter("ignore", FutureWarning)
                from pyspark.sql import SparkSession
        except ImportError as e:
            raise EngineError('spark: pyspark is not installed (pip install -e ".[spark]")') from e
        self._own = session is None
        if session is None:
            session = (
                SparkSession.builder.master(master)
                .appName("instore-analytics")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", "UTC")
                # store names and dates stay strings ("007" is a store, not 7)
                .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
                .getOrCreate()
            )
            session.sparkContext.setLogLevel("ERROR")
        self.spark = session
        self._cached: dict[str, Any] = {}

    def parquet(self, name: str, folder: Path, columns: str, selection: Selection) -> None:
        frame = self.spark.read.option("basePath", str(folder)).option("mergeSchema", "true")
        frame.parquet(str(folder)).createOrReplaceTempView(f"{name}_parquet")
        self.view(name, f"SELECT {columns} FROM {name}_parquet WHERE {selection.where('date')}")

    def register(self, source: Source, selection: Selection) -> None:
        _register(self, source, selection)

    def materialize(self, name: str, sql: str) -> None:
        old = self._cached.pop(name, None)
        if old is not None:
            old.unpersist()
        frame = self._sql(sql).cache()
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame

    def register_table(self, name: str, table: pa.Table) -> None:
        # dictionary columns as plain strings: Spark reads Arrow's basic types
        plain = pa.table(
            {
                c: col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col
                for c, col in zip(table.column_names, table.columns, strict=True)
            }
        )
        self.spark.createDataFrame(plain).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        self._sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    def _sql(self, sql: str) -> Any:
        try:
            return self.spark.sql(sql)
        except Exception as e:  # pyspark's AnalysisException and friends share no root
            raise EngineError(f"spark: {e}\n-- in: {sql[:400]}") from e

    def table(self, sql: str) -> pa.Table:
        result: pa.Table = self._sql(sql).toArrow()
        return result

    def close(self) -> None:
        if self._own:
            self.spark.stop()


def make_engine(name: str, **options: Any) -> Engine:
    """``duckdb`` (default) or ``spark``."""
    if name == "duckdb":
        return DuckDBEngine(**options)
    if name == "spark":
        return SparkEngine(**options)
    raise EngineError(f"--engine: unknown engine {name!r} (duckdb or spark)")
