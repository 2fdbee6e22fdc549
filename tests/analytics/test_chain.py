"""The chain report recovers the synthetic chain's truth; the daily table stays fresh; the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from chain_fixtures import FASHION, SMALL, write

from analytics.chain import ChainFigures, Period, chain_figures
from analytics.daily import refresh_daily
from analytics.engines import DuckDBEngine
from analytics.queries import LENGTH_BIN_S
from analytics.sources import ArchiveSource
from analytics.synthetic import ChainTruth, hour_profile
from presence.cli import main

PERIOD = Period(SMALL.first_day, SMALL.first_day + dt.timedelta(days=SMALL.days - 1))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChainTruth]:
    root = tmp_path_factory.mktemp("chain")
    return root, write(root, SMALL)


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    e = DuckDBEngine(memory_limit="300MB", threads=1)
    yield e
    e.close()


def _figures(root: Path, engine: DuckDBEngine, k: int, compare: bool = False) -> ChainFigures:
    refresh_daily(root, engine)
    return chain_figures(engine, ArchiveSource(root), None, PERIOD, k, compare=compare)


def test_stores_side_by_side_match_the_truth(
    chain: tuple[Path, ChainTruth], engine: DuckDBEngine
) -> None:
    root, truth = chain
    f = _figures(root, engine, k=1)
    got = f.summary.set_index("store")
    days = truth.days.groupby("store")
    lengths = truth.visits.groupby("store")["length_s"]
    for store in SMALL.names():
        assert got.loc[store, "visits"] == days["visits"].sum()[store]
        assert got.loc[store, "visitor_days"] == days["visitors"].sum()[store]
        capture = days["visitors"].sum()[store] / days["devices"].sum()[store]
        assert got.loc[store, "capture_rate"] == pytest.approx(capture, rel=1e-9)
        # the median comes from a histogram of LENGTH_BIN_S bins, interpolated within one
        assert abs(got.loc[store, "median_visit_s"] - lengths.median()[store]) <= LENGTH_BIN_S
    assert not got["suppressed"].any()


def test_weeks_dow_hour_and_zones_match_the_truth(
    chain: tuple[Path, ChainTruth], engine: DuckDBEngine
) -> None:
    root, truth = chain
    f = _figures(root, engine, k=1)
    days = truth.days.assign(week=[(d - SMALL.first_day).days // 7 for d in truth.days["day"]])
    want = days.groupby(["store", "week"])["visits"].sum()
    got = f.weeks.set_index(["store", "week"])["visits"]
    assert got.sort_index().tolist() == want.sort_index().tolist()
    # day of week x hour: the mean per store-day of the truth's counts
    hours = truth.hours.assign(dow=[d.weekday() for d in truth.hours["day"]])
    store_days = (
        truth.days.assign(dow=[d.weekday() for d in truth.days["day"]]).groupby("dow").size()
    )
    expect = hours.groupby(["dow", "hour"])["visits"].sum() / store_days.reindex(
        range(7)
    ).to_numpy().repeat(24)
    grid = f.dow_hour.set_index(["dow", "hour"])["visits_per_store_day"]
    for key, value in grid.items():
        assert value == pytest.approx(expect[key], rel=1e-9)
    # dwell per zone per visitor: the truth's dwell seconds per visitor-day of the store
    visitor_days = truth.days.groupby("store")["visitors"].sum()
    dwell = truth.zones.groupby(["store", "zone"])["dwell_s"].sum()
    for row in f.zones.itertuples():
        assert row.dwell_s_per_visitor == pytest.approx(
            dwell[(row.store, row.zone)] / visitor_days[row.store], rel=1e-9
        )


def test_the_simulated_patterns_are_recovered(
    chain: tuple[Path, ChainTruth], engine: DuckDBEngine
) -> None:
    """Not the truth's own counts but the parameters it was drawn from: weekends busier by the
    weekend factor, visits following the hour-of-day profile."""
    root, _ = chain
    f = _figures(root, engine, k=1)
    grid = f.dow_hour.pivot(index="dow", columns="hour", values="visits_per_store_day")
    grid = grid.reindex(index=range(7), columns=range(24)).fillna(0.0).to_numpy()
    weekday, weekend = grid[:5].sum(axis=1).mean(), grid[5:].sum(axis=1).mean()
    assert weekend / weekday == pytest.approx(SMALL.weekend_factor, rel=0.15)
    profile = grid.sum(axis=0) / grid.sum()
    assert np.corrcoef(profile, hour_profile())[0, 1] > 0.95
    assert profile[:9].sum() == 0.0 and profile[22:].sum() == 0.0  # closed at night


def test_k_anonymity_suppresses_small_groups(
    chain: tuple[Path, ChainTruth], engine: DuckDBEngine
) -> None:
    root, truth = chain
    # a store-period shows only when one of its days alone had k distinct visitors
    k = int(truth.days.groupby("store")["visitors"].max().min()) + 1
    f = _figures(root, engine, k=k)
    s = f.summary.set_index("store")
    weakest = truth.days.groupby("store")["visitors"].max().idxmin()
    assert bool(s.loc[weakest, "suppressed"])
    assert pd.isna(s.loc[weakest, "visits"]) and pd.isna(s.loc[weakest, "capture_rate"])
    strongest = truth.days.groupby("store")["visitors"].max().idxmax()
    assert not bool(s.loc[strongest, "suppressed"]) and s.loc[strongest, "visits"] > 0
    assert f.dow_hour["suppressed"].any()


def test_the_daily_table_recomputes_only_what_changed(
    chain: tuple[Path, ChainTruth], tmp_path: Path, engine: DuckDBEngine
) -> None:
    src, _ = chain
    root = tmp_path / "archive"
    shutil.copytree(src / "positions", root / "positions")
    shutil.copytree(src / "events", root / "events")
    assert refresh_daily(root, engine) == SMALL.stores * SMALL.days
    assert refresh_daily(root, engine) == 0
    # instore archive flushes a new part into one store-day: only that one is stale
    part = root / "events" / f"store={SMALL.names()[0]}" / f"date={SMALL.first_day.isoformat()}"
    extra = part / "part-later.parquet"
    shutil.copy(part / "part-synthetic.parquet", extra)
    later = extra.stat().st_mtime + 5
    os.utime(extra, (later, later))
    assert refresh_daily(root) == 1  # its own DuckDB engine, as instore archive would call it


def test_cli_chain_report(chain: tuple[Path, ChainTruth], tmp_path: Path) -> None:
    root, truth = chain
    out = tmp_path / "report"
    stores = ",".join(SMALL.names())
    second_week = SMALL.first_day + dt.timedelta(days=7)
    code = main(
        [
            "report", str(root), "--stores", stores, "--from", second_week.isoformat(),
            "--to", PERIOD.last.isoformat(), "--compare", "previous-period",
            "--store", str(FASHION), "-o", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    figures = json.loads((out / "figures.json").read_text())
    assert figures["stores"] == list(SMALL.names())
    first_week = truth.days[truth.days["day"] < second_week].groupby("store")["visits"].sum()
    previous = {r["store"]: r["visits"] for r in figures["previous"]}
    assert previous == {s: int(first_week[s]) for s in SMALL.names()}
    page = (out / "index.html").read_text()
    for name in ("weeks", "dow_hour", "floors"):
        assert (out / f"{name}.png").stat().st_size > 1000
        assert f'data-file="{name}.png"' in page
    assert "Stores side by side" in page and "k = 5" in page


def test_cli_names_an_unknown_store(
    chain: tuple[Path, ChainTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = chain
    assert main(["report", str(root), "--stores", "nowhere", "-o", str(tmp_path / "r")]) == 2
    assert "store=nowhere" in capsys.readouterr().err
