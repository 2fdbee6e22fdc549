"""The chain page's day-of-week x hour grid in each store's local time, against the truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from chain_fixtures import SMALL, write

from analytics.chain import Period, chain_figures
from analytics.daily import refresh_daily
from analytics.engines import DuckDBEngine
from analytics.errors import AnalyticsError
from analytics.localtime import StoreZones, store_zones
from analytics.sources import ArchiveSource
from analytics.synthetic import ChainTruth, hour_profile
from presence.cli import main

PERIOD = Period(SMALL.first_day, SMALL.first_day + dt.timedelta(days=SMALL.days - 1))
#: one store behind UTC, one far ahead (New Zealand daylight time, +13 in November): a
#: visit at 10:00 UTC on a Friday is 05:00 Friday in New York and 23:00 Friday in Auckland
ZONES = {"store-01": "America/New_York", "store-02": "Pacific/Auckland"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChainTruth]:
    root = tmp_path_factory.mktemp("chain-tz")
    truth = write(root, SMALL)
    engine = DuckDBEngine(memory_limit="300MB", threads=1)
    try:
        refresh_daily(root, engine)
    finally:
        engine.close()
    return root, truth


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    e = DuckDBEngine(memory_limit="300MB", threads=1)
    yield e
    e.close()


def _local(t_s: float, zone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, tz=ZoneInfo(zone))


def expected_grid(truth: ChainTruth, zones: dict[str, str]) -> pd.Series:
    """Visits per local (dow, hour) over store-days, each store-day weighted by the share
    of its 24 UTC hours falling on that local weekday: the page's definition, from the
    truth's own visit start times."""
    v = truth.visits
    local = [_local(t, zones[s]) for s, t in zip(v["store"], v["start_s"], strict=True)]
    counts = pd.Series(1.0, index=pd.MultiIndex.from_tuples([(t.weekday(), t.hour) for t in local]))
    counts = counts.groupby(level=[0, 1]).sum()
    weight = pd.Series(0.0, index=range(7))
    for store, day in zip(truth.days["store"], truth.days["day"], strict=True):
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()
        for hour in range(24):
            weight[_local(midnight + 3600 * hour, zones[store]).weekday()] += 1 / 24
    return counts / weight.reindex(counts.index.get_level_values(0)).to_numpy()


def test_the_grid_is_in_each_stores_local_time(
    chain: tuple[Path, ChainTruth], engine: DuckDBEngine
) -> None:
    root, truth = chain
    zones = StoreZones(per_store=ZONES)
    f = chain_figures(engine, ArchiveSource(root), None, PERIOD, k=1, timezones=zones)
    want = expected_grid(truth, ZONES)
    got = f.dow_hour.set_index(["dow", "hour"])["visits_per_store_day"].astype(float)
    assert sorted(got.index) == sorted(want.index)
    for key, value in got.items():
        assert value == pytest.approx(want[key], rel=1e-9), key
    # the shop opens at 09:00 UTC: 04:00 in New York, 22:00 in Auckland; in UTC no visit
    # starts before 09:00, in local time visits start at night
    assert set(got.index.get_level_values(1)) & {4, 22, 23}
    assert f.timezone == "local time of each store"


def test_utc_stays_the_default(chain: tuple[Path, ChainTruth], engine: DuckDBEngine) -> None:
    root, truth = chain
    f = chain_figures(engine, ArchiveSource(root), None, PERIOD, k=1)
    want = expected_grid(truth, {s: "UTC" for s in SMALL.names()})
    got = f.dow_hour.set_index(["dow", "hour"])["visits_per_store_day"].astype(float)
    for key, value in got.items():
        assert value == pytest.approx(want[key], rel=1e-9)
    assert min(got.index.get_level_values(1)) == 9 and f.timezone == "UTC"


def test_zones_from_the_flag_and_the_archive(tmp_path: Path) -> None:
    assert store_zones(None, tmp_path).of("any") == "UTC"
    (tmp_path / "timezones.toml").write_text('store-01 = "Europe/Paris"\n')
    from_file = store_zones(None, tmp_path)
    assert from_file.of("store-01") == "Europe/Paris" and from_file.of("store-02") == "UTC"
    # a pair in the flag adds to the file; a bare zone in the flag is every store's
    mixed = store_zones("store-02=Asia/Tokyo", tmp_path)
    assert (mixed.of("store-01"), mixed.of("store-02")) == ("Europe/Paris", "Asia/Tokyo")
    every = store_zones("America/Chicago", tmp_path)
    assert every.of("store-01") == every.of("store-09") == "America/Chicago"
    with pytest.raises(AnalyticsError, match="--timezone store-01=Mars/Olympus"):
        store_zones("store-01=Mars/Olympus")
    (tmp_path / "timezones.toml").write_text('store-01 = "Nowhere/Land"\n')
    with pytest.raises(AnalyticsError, match="timezones.toml: store-01"):
        store_zones(None, tmp_path)


def test_cli_takes_the_zones(chain: tuple[Path, ChainTruth], tmp_path: Path) -> None:
    root, _ = chain
    pairs = ",".join(f"{s}={z}" for s, z in ZONES.items())
    out = tmp_path / "r"
    assert main(["report", str(root), "--tz", pairs, "-o", str(out)]) == 0
    figures = json.loads((out / "figures.json").read_text())
    assert figures["timezone"] == "local time of each store"
    assert "local time of each store" in (out / "index.html").read_text()


def test_local_opening_hours_are_recovered(tmp_path: Path, engine: DuckDBEngine) -> None:
    """Stores drawn on their own clocks (open 09-21 local, far from UTC): the local grid
    recovers the hour profile and its closed nights; the UTC grid smears them."""
    params = dataclasses.replace(SMALL, days=7, timezones=tuple(ZONES.values()))
    root = tmp_path / "local"
    write(root, params)
    refresh_daily(root, engine)
    # the archive is partitioned by UTC date: a local day spreads over two of them
    assert len(list((root / "positions" / "store=store-02").glob("date=*"))) == params.days + 1
    # Auckland's first local day starts on the UTC day before
    period = Period(
        params.first_day - dt.timedelta(days=1), params.first_day + dt.timedelta(days=7)
    )

    def profile(zones: StoreZones) -> np.ndarray:
        f = chain_figures(engine, ArchiveSource(root), None, period, k=1, timezones=zones)
        grid = f.dow_hour.groupby("hour")["visits_per_store_day"].sum()
        values = grid.reindex(range(24)).fillna(0.0).to_numpy(float)
        return values / values.sum()

    local = profile(StoreZones(per_store=ZONES))
    assert np.corrcoef(local, hour_profile())[0, 1] > 0.97
    assert local[:9].sum() == 0.0 and local[22:].sum() == 0.0  # closed at night, local time
    utc = profile(StoreZones())
    assert np.corrcoef(utc, hour_profile())[0, 1] < 0.5
