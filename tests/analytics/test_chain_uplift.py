"""The chain page's welcome uplift, per store and for the chain, against the truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from chain_fixtures import SMALL, write

from analytics.chain import Period, chain_figures
from analytics.chainuplift import ALL_STORES
from analytics.daily import refresh_daily
from analytics.engines import DuckDBEngine
from analytics.sources import ArchiveSource
from analytics.synthetic import ChainTruth, write_crm
from analytics.uplift import newcombe_difference, read_crm
from presence.cli import main

#: the small chain with a welcome service: most one-off visits are customers, a clear effect'
WELCOME = dataclasses.replace(
    SMALL, customer_share=0.9, control_share=0.4, purchase_uplift=0.2, seed=12
)
PERIOD = Period(WELCOME.first_day, WELCOME.first_day + dt.timedelta(days=WELCOME.days - 1))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChainTruth, str]:
    root = tmp_path_factory.mktemp("chain-welcome")
    truth = write(root, WELCOME)
    url = f"sqlite:///{root / 'crm.sqlite'}"
    write_crm(url, truth)
    engine = DuckDBEngine(memory_limit="300MB", threads=1)
    try:
        refresh_daily(root, engine)
    finally:
        engine.close()
    return root, truth, url


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    e = DuckDBEngine(memory_limit="300MB", threads=1)
    yield e
    e.close()


def _truth_rows(decisions: pd.DataFrame) -> dict[str, tuple[int, int, int, int]]:
    """store -> (messaged, messaged who bought, control, control who bought)."""
    out = {}
    for store, d in [*decisions.groupby("store"), (ALL_STORES, decisions)]:
        t, c = d[d["outcome"] == "send"], d[d["outcome"] == "control"]
        out[str(store)] = (len(t), int(t["purchased"].sum()), len(c), int(c["purchased"].sum()))
    return out


def test_uplift_per_store_matches_the_truth(
    chain: tuple[Path, ChainTruth, str], engine: DuckDBEngine
) -> None:
    root, truth, url = chain
    f = chain_figures(engine, ArchiveSource(root), None, PERIOD, k=1, crm=read_crm(url))
    assert f.uplift is not None
    got = f.uplift.set_index("store")
    want = _truth_rows(truth.decisions)
    assert list(got.index) == [*WELCOME.names(), ALL_STORES]
    for store, (n_t, x_t, n_c, x_c) in want.items():
        row = got.loc[store]
        assert (row["messaged"], row["control"]) == (n_t, n_c)
        assert row["messaged_purchase_rate"] == pytest.approx(x_t / n_t, rel=1e-12)
        assert row["control_purchase_rate"] == pytest.approx(x_c / n_c, rel=1e-12)
        d, lo, hi = newcombe_difference(x_t, n_t, x_c, n_c)
        assert (
            row["purchase_uplift"],
            row["purchase_uplift_low"],
            row["purchase_uplift_high"],
        ) == (
            pytest.approx(d),
            pytest.approx(lo),
            pytest.approx(hi),
        )
    # the chain's interval holds the uplift the simulation was drawn with
    chain_row = got.loc[ALL_STORES]
    assert (
        chain_row["purchase_uplift_low"]
        < WELCOME.purchase_uplift
        < chain_row["purchase_uplift_high"]
    )
    assert chain_row["purchase_uplift_low"] > 0  # and the effect is seen at this size


def test_uplift_rows_from_fewer_than_k_devices_are_withheld(
    chain: tuple[Path, ChainTruth, str], engine: DuckDBEngine
) -> None:
    root, truth, url = chain
    controls = truth.decisions[truth.decisions["outcome"] == "control"]
    smallest = controls.groupby("store").size()
    k = int(smallest.min()) + 1  # more than the smallest store's control group
    f = chain_figures(engine, ArchiveSource(root), None, PERIOD, k=k, crm=read_crm(url))
    assert f.uplift is not None
    got = f.uplift.set_index("store")
    weakest = str(smallest.idxmin())
    assert bool(got.loc[weakest, "suppressed"])
    assert got.loc[weakest, ["messaged", "control", "purchase_uplift"]].isna().all()
    assert not bool(got.loc[ALL_STORES, "suppressed"]) and got.loc[ALL_STORES, "control"] == len(
        controls
    )


def test_cli_draws_the_uplift(chain: tuple[Path, ChainTruth, str], tmp_path: Path) -> None:
    root, truth, url = chain
    out = tmp_path / "r"
    assert main(["report", str(root), "--crm", url, "-o", str(out)]) == 0
    figures = json.loads((out / "figures.json").read_text())
    rows = {r["store"]: r for r in figures["uplift"]}
    assert rows[ALL_STORES]["messaged"] == int((truth.decisions["outcome"] == "send").sum())
    assert (out / "uplift.png").stat().st_size > 1000
    assert "Welcome uplift" in (out / "index.html").read_text()
    # without a CRM the page says what is missing
    assert main(["report", str(root), "-o", str(tmp_path / "plain")]) == 0
    assert "No CRM given" in (tmp_path / "plain" / "index.html").read_text()
