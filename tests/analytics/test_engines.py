"""DuckDB and Spark run the same queries on the same archive and agree on every figure."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from chain_fixtures import TINY, write
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from analytics.chain import ChainFigures, Period, chain_figures
from analytics.daily import DAILY_TABLES, refresh_daily
from analytics.engines import DuckDBEngine, Engine, EngineError, make_engine
from analytics.localtime import StoreZones
from analytics.sources import ArchiveSource, Selection, run_source
from analytics.synthetic import write_crm
from analytics.uplift import read_crm

HAS_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
PERIOD = Period(TINY.first_day, TINY.first_day + dt.timedelta(days=TINY.days - 1))
FIGURES = ("summary", "weeks", "dow_hour", "zones", "cells", "zone_stats", "flows", "uplift")
#: the tiny chain with a welcome funnel, its stores in two time zones
WELCOME = dataclasses.replace(TINY, customer_share=0.8, control_share=0.4)
ZONES = StoreZones(per_store={"store-01": "Europe/Paris", "store-02": "America/Los_Angeles"})


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    write_crm(f"sqlite:///{root / 'crm.sqlite'}", write(root, WELCOME))
    return root


def _figures(
    engine: Engine, root: Path, daily: Path
) -> tuple[ChainFigures, dict[str, pd.DataFrame]]:
    refresh_daily(root, engine, daily_root=daily)
    crm = read_crm(f"sqlite:///{root / 'crm.sqlite'}")
    f = chain_figures(
        engine,
        ArchiveSource(root),
        None,
        PERIOD,
        k=3,
        daily_root=str(daily),
        timezones=ZONES,
        crm=crm,
    )
    tables = {}
    for name in DAILY_TABLES:
        frame = pd.read_parquet(daily / name)
        # the partition columns come back categorical
        tables[name] = frame.assign(
            store=frame["store"].astype(str), date=frame["date"].astype(str)
        )
    return f, tables


KEYS = ("ix", "iy", "day_n", "bin", "hour", "dow", "week")


def _same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    numeric = [c for c in a.columns if is_numeric_dtype(a[c]) and not is_bool_dtype(a[c])]
    keys = [c for c in a.columns if c not in numeric or c in KEYS]
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    assert len(a) == len(b), what
    for c in a.columns:
        if c in keys:
            assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), f"{what}.{c}"
        else:
            np.testing.assert_allclose(
                a[c].astype(float).to_numpy(),
                b[c].astype(float).to_numpy(),
                rtol=1e-9,
                err_msg=f"{what}.{c}",
            )


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SPARK, reason='needs pyspark (pip install -e ".[spark]") and java')
def test_duckdb_and_spark_agree(archive: Path, tmp_path: Path) -> None:
    duck = DuckDBEngine(memory_limit="300MB", threads=1)
    try:
        want, want_daily = _figures(duck, archive, tmp_path / "duck")
    finally:
        duck.close()
    spark = make_engine("spark", master="local[1]")
    try:
        got, got_daily = _figures(spark, archive, tmp_path / "spark")
    finally:
        spark.close()
    for name in DAILY_TABLES:
        _same(want_daily[name], got_daily[name], name)
    for name in FIGURES:
        _same(getattr(want, name), getattr(got, name), name)
    assert want.summary["visits"].sum() > 0 and len(want.flows) > 0
    assert want.uplift is not None and want.uplift["messaged"].sum() > 0


def test_a_run_folder_is_a_source(tmp_path: Path) -> None:
    """A simulation folder through the same queries: visits as the simulator wrote them."""
    from analytics_synth import FASHION, synthetic_run_of

    from analytics.daily import prepare
    from positioning.layout import load_layout

    run = synthetic_run_of(load_layout(FASHION), n=12, seed=3)
    folder = tmp_path / "sim"
    folder.mkdir()
    run.positions.rename(columns={"t_s": "t", "x_m": "x", "y_m": "y"}).to_parquet(
        folder / "truth.parquet"
    )
    run.visits.to_parquet(folder / "visits.parquet")
    (folder / "meta.json").write_text(f'{{"store_path": "{FASHION}"}}')
    source = run_source(folder)
    engine = DuckDBEngine(threads=1)
    try:
        prepare(engine, source, Selection())
        got = engine.table("SELECT count(*) AS n, sum(duration_s) AS s FROM visits").to_pylist()[0]
    finally:
        engine.close()
    assert got["n"] == len(run.visits)
    assert got["s"] == pytest.approx(run.visits["duration_s"].sum())


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(EngineError, match="unknown engine 'trino'"):
        make_engine("trino")
