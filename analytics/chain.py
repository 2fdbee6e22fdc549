"""A chain's figures over a period: stores side by side, week over week, day-of-week x hour,
dwell per zone per visitor, floor cells, zone statistics and flows.

Everything is one of :mod:`analytics.queries` run by an engine; the results are small frames
(a row per store, week, zone or floor cell), which is where pandas earns its place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analytics import queries
from analytics.chainuplift import chain_uplift
from analytics.daily import DAILY_TABLES, DailyOptions, prepare, register_daily
from analytics.engines import DuckDBEngine, Engine
from analytics.localtime import StoreZones, local_hours
from analytics.sources import ArchiveSource, Selection, open_source
from analytics.uplift import CrmTables

__all__ = [
    "ChainFigures",
    "Period",
    "chain_figures",
    "connect",
    "day_number",
    "register_local_hours",
]

#: A transition between zones (analytics.flows.DEFAULT_MAX_GAP_S).
FLOW_MAX_GAP_S = 300.0


def day_number(day: dt.date) -> int:
    """Whole UTC days since the epoch: the queries' ``day_n``."""
    return (day - dt.date(1970, 1, 1)).days


@dataclass(frozen=True, slots=True)
class Period:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.first - dt.timedelta(days=self.days), self.first - dt.timedelta(days=1))

    def label(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


@dataclass(frozen=True, slots=True)
class ChainFigures:
    stores: tuple[str, ...]
    period: Period
    k: int
    #: store, days, visits, visitor_days, capture_rate, median_visit_s, suppressed
    summary: pd.DataFrame
    #: store, week (0 = the period's first 7 days), week_start, the summary's columns
    weeks: pd.DataFrame
    #: dow (0 Monday), hour (each store's local time), visits_per_store_day, suppressed
    dow_hour: pd.DataFrame
    #: store, zone, dwell_s_per_visitor, zone_s_per_visitor, suppressed
    zones: pd.DataFrame
    #: store, ix, iy, seconds, k_devices (floor cells; the heatmap suppresses them)
    cells: pd.DataFrame
    #: store, zone, visitors, zone_visits, dwells, dwell_median_s, dwell_p90_s, suppressed
    zone_stats: pd.DataFrame
    #: store, from_zone, to_zone, transitions, suppressed
    flows: pd.DataFrame
    #: the summary of the previous period, when compared
    previous: pd.DataFrame | None = None
    previous_period: Period | None = None
    notes: tuple[str, ...] = field(default=())
    #: the time zone the day-of-week x hour grid is in ("local time of each store" if mixed)
    timezone: str = "UTC"
    #: welcome uplift per store and for the chain (analytics.chainuplift), with a CRM
    uplift: pd.DataFrame | None = None


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    return engine.table(sql).to_pandas()


def register_local_hours(engine: Engine, zones: StoreZones | None = None) -> None:
    """``local_hours`` for the store-days of ``d_store`` (UTC when no zones are given)."""
    days = engine.table("SELECT DISTINCT store, day_n FROM d_store").to_pylist()
    pairs = [(str(r["store"]), int(r["day_n"])) for r in days]
    engine.register_table("local_hours", local_hours(pairs, zones or StoreZones()))


def _summary(engine: Engine, k: int, bucket: str = "0") -> pd.DataFrame:
    return _frame(engine, queries.chain_stores(k, bucket))


def chain_figures(
    engine: Engine,
    archive: ArchiveSource,
    stores: tuple[str, ...] | None,
    period: Period,
    k: int,
    compare: bool = False,
    daily_root: str | None = None,
    options: DailyOptions | None = None,
    timezones: StoreZones | None = None,
    crm: CrmTables | None = None,
) -> ChainFigures:
    """Every figure of the chain page from the daily table (kept fresh by the caller with
    :func:`analytics.daily.refresh_daily`) and, for zone statistics and flows, the events."""
    root = archive.root / "daily" if daily_root is None else archive.root.joinpath(daily_root)
    selection = Selection(stores, period.first, period.last)
    register_daily(engine, root, selection)
    first = day_number(period.first)
    week = f"CAST(floor((day_n - {first}) / 7) AS BIGINT)"
    summary = _summary(engine, k).drop(columns="bucket")
    weeks = _summary(engine, k, week).rename(columns={"bucket": "week"})
    weeks["week_start"] = [period.first + dt.timedelta(days=7 * int(w)) for w in weeks["week"]]
    register_local_hours(engine, timezones)
    dow_hour = _frame(engine, queries.chain_dow_hour(k))
    zones = _frame(engine, queries.chain_zones(k))
    cells = _frame(engine, queries.chain_cells())
    previous = previous_period = None
    if compare:
        previous_period = period.previous()
        register_daily(engine, root, Selection(stores, previous_period.first, previous_period.last))
        previous = _summary(engine, k).drop(columns="bucket")
        register_daily(engine, root, selection)
    engine.register(archive, selection)
    for name, sql in queries.VIEWS:
        engine.view(name, sql)
    zone_stats = _frame(engine, queries.zone_stats(k))
    flows = _frame(engine, queries.flows(k, FLOW_MAX_GAP_S))
    uplift = chain_uplift(engine, crm, k) if crm is not None else None
    names = tuple(sorted(summary["store"])) if stores is None else stores
    return ChainFigures(
        stores=names,
        period=period,
        k=k,
        summary=summary,
        weeks=weeks,
        dow_hour=dow_hour,
        zones=zones,
        cells=cells,
        zone_stats=zone_stats,
        flows=flows,
        previous=previous,
        previous_period=previous_period,
        timezone=(timezones or StoreZones()).label(names),
        uplift=uplift,
    )


def connect(
    path: str | Path,
    stores: tuple[str, ...] | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
    engine: Engine | None = None,
    layout: str | Path | None = None,
) -> Engine:
    """An engine (DuckDB unless given) over an archive or a run folder with every relation of
    the query layer: ``positions``, ``events``, ``visits``, ``zone_visits``, ``dwells`` and
    the daily ``d_*`` (the archive's daily table when it has one, else computed on the fly).
    For notebooks: ``connect(archive).con.sql("SELECT ...").df()`` continues in SQL or pandas."""
    e = engine or DuckDBEngine()
    source = open_source(path, layout)
    selection = Selection(stores, first, last)
    daily = source.root / "daily" if isinstance(source, ArchiveSource) else None
    if daily is not None and all((daily / t).is_dir() for t in DAILY_TABLES):
        e.register(source, selection)
        for name, sql in queries.VIEWS:
            e.view(name, sql)
        register_daily(e, daily, selection)
    else:
        prepare(e, source, selection)
    register_local_hours(e)
    return e
