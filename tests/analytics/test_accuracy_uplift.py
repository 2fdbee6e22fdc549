from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from analytics_synth import T0, positions

from analytics.accuracy import NO_ZONE, accuracy
from analytics.intervals import make_intervals
from analytics.report import ReportOptions, build_report
from analytics.run import RunData
from analytics.uplift import newcombe_difference, read_crm, uplift, wilson
from positioning.layout import Layout


def test_error_is_the_known_offset_and_zones_match(fashion: Layout) -> None:
    t = T0 + np.arange(0, 100, 0.2)  # truth at 5 Hz walking along y = 5 through womens, entrance
    truth = positions(t, ["a"] * len(t), np.linspace(2, 18, len(t)), np.full(len(t), 2.0))
    lt = T0 + np.arange(0.5, 99.0, 1.0)
    true_x = np.interp(lt, t, np.linspace(2, 18, len(t)))
    located = positions(lt, ["a"] * len(lt), true_x + 0.3, np.full(len(lt), 2.4))
    acc = accuracy(located, truth, fashion)
    assert len(acc.error_m) == len(lt) and acc.unmatched == 0
    assert acc.error_m == pytest.approx(np.full(len(lt), 0.5))
    z = {name: i for i, name in enumerate(acc.zones)}
    # Wrong zone only where the 0.3 m offset crosses a boundary: womens ends at x = 10, the
    # entrance starts at x = 11.
    near = ((true_x >= 9.7) & (true_x < 10.0)) | ((true_x >= 10.7) & (true_x < 11.0))
    assert acc.confusion.sum() - np.trace(acc.confusion) == near.sum() > 0
    assert (
        acc.confusion[z["womens"], z["womens"]] > 0
        and acc.confusion[z["entrance"], z["entrance"]] > 0
    )
    assert acc.zones[-1] == NO_ZONE


def test_samples_without_truth_are_not_matched(fashion: Layout) -> None:
    t = T0 + np.arange(0, 10, 0.2)
    truth = positions(t, ["a"] * len(t), np.full(len(t), 5.0), np.full(len(t), 5.0))
    located = positions(T0 + np.array([5.0, 50.0, 5.0]), ["a", "a", "zz"], [5.0] * 3, [5.0] * 3)
    acc = accuracy(located, truth, fashion)
    assert len(acc.error_m) == 1 and acc.unmatched == 2


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (56/70 vs 48/80), method 10.
    d, lo, hi = newcombe_difference(56, 70, 48, 80)
    assert d == pytest.approx(0.2, abs=1e-9)
    assert lo == pytest.approx(0.0524, abs=1e-4)
    assert hi == pytest.approx(0.3339, abs=1e-4)
    assert wilson(0, 10)[0] == pytest.approx(0.0) and wilson(10, 10)[1] == pytest.approx(1.0)


def _crm(tmp_path: Path) -> str:
    from presence.crm.schema import metadata

    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    t = metadata.tables
    rows = []
    # 40 messaged visits (devices m00..m39), 40 control (c00..c39); each visit is 600 s.
    for group, outcome, buyers in (("m", "send", 20), ("c", "control", 10)):
        for i in range(40):
            rows.append((f"{group}{i:02d}", outcome, i < buyers))
    with engine.begin() as conn:
        for n, (dev, outcome, buys) in enumerate(rows):
            conn.execute(
                t["customers"]
                .insert()
                .values(
                    customer_id=f"cu-{dev}",
                    given_name="A",
                    family_name="B",
                    email="a@b",
                    language="en",
                    loyalty_tier="basic",
                    created_s=0.0,
                )
            )
            conn.execute(
                t["decisions"]
                .insert()
                .values(
                    event_id=f"e{n}",
                    trigger="store.enter",
                    store="demo-fashion",
                    device_id=dev,
                    customer_id=f"cu-{dev}",
                    visit_id=f"v{n}",
                    decided_s=T0 + n * 1000 + 5,
                    outcome=outcome,
                    reason="x",
                    recorded_wall_s=0.0,
                )
            )
            if buys:
                conn.execute(
                    t["purchases"]
                    .insert()
                    .values(
                        purchase_id=f"p{n}",
                        customer_id=f"cu-{dev}",
                        channel="store",
                        store="demo-fashion",
                        category="shoes",
                        amount_cents=1000,
                        at_s=T0 + n * 1000 + 500,
                    )
                )
            conn.execute(
                t["purchases"]
                .insert()
                .values(
                    purchase_id=f"w{n}",
                    customer_id=f"cu-{dev}",
                    channel="web",
                    category="shoes",
                    amount_cents=1000,
                    at_s=T0 + n * 1000 + 500,
                )
            )
        conn.execute(t["staff_devices"].insert().values(device_id="staff1", label="till"))
    engine.dispose()
    return url


def test_uplift_from_a_crm(tmp_path: Path) -> None:
    crm = read_crm(_crm(tmp_path))
    assert crm.staff_devices == frozenset({"staff1"})
    devs = [f"m{i:02d}" for i in range(40)] + [f"c{i:02d}" for i in range(40)] + ["x"]
    starts = T0 + np.arange(81) * 1000.0
    visits = make_intervals(devs, [""] * 81, starts, starts + 600)
    dwells = make_intervals(devs[:40], ["womens"] * 40, starts[:40] + 100, starts[:40] + 160)
    up = uplift(crm, visits, dwells)
    assert up.funnel["store visits"] == 81
    assert up.funnel["visits with a welcome decision"] == 80
    assert up.funnel["messaged"] == 40 and up.funnel["control group"] == 40
    assert up.purchase_rate == {"messaged": pytest.approx(0.5), "control": pytest.approx(0.25)}
    d, lo, hi = up.purchase_uplift
    assert d == pytest.approx(0.25) and lo < 0.25 < hi and lo > 0.0
    assert up.dwell_after_s == {"messaged": pytest.approx(60.0), "control": pytest.approx(0.0)}


def test_a_bad_crm_url_names_the_url(tmp_path: Path) -> None:
    from analytics.errors import AnalyticsError

    with pytest.raises(AnalyticsError, match="--crm"):
        read_crm(f"sqlite:///{tmp_path / 'empty.sqlite'}")


@pytest.mark.slow
def test_report_with_a_crm_draws_the_funnel(tmp_path: Path, synthetic_run: RunData) -> None:
    crm = read_crm(_crm(tmp_path))
    report = build_report(synthetic_run, tmp_path / "r", ReportOptions(k=1), crm=crm)
    assert [p.name for p in report.pngs] == ["heatmap.png", "visits.png", "flows.png", "uplift.png"]
    assert report.figures["uplift"]["funnel"]["store visits"] == 40
    assert "Welcome funnel and uplift" in report.html.read_text(encoding="utf-8")


def test_the_sql_funnel_agrees_with_the_pandas_one(tmp_path: Path) -> None:
    """analytics.queries.welcome on an engine gives the same uplift as analytics.uplift."""
    import pandas as pd
    import pyarrow as pa

    from analytics.engines import DuckDBEngine
    from analytics.queries import welcome
    from analytics.uplift import PURCHASE_GRACE_S, uplift_of_groups

    crm = read_crm(_crm(tmp_path))
    devs = [f"m{i:02d}" for i in range(40)] + [f"c{i:02d}" for i in range(40)] + ["x"]
    starts = T0 + np.arange(81) * 1000.0
    visits = make_intervals(devs, [""] * 81, starts, starts + 600)
    # messaged visits dwell 60 s after the decision, a few control visits 30 s
    dwell_devs = devs[:40] + devs[40:45]
    dwell_starts = np.concatenate([starts[:40], starts[40:45]]) + 100
    lengths = np.concatenate([np.full(40, 60.0), np.full(5, 30.0)])
    dwells = make_intervals(dwell_devs, ["womens"] * 45, dwell_starts, dwell_starts + lengths)
    want = uplift(crm, visits, dwells)

    def table(frame: pd.DataFrame) -> pa.Table:
        out = frame[["start_s", "end_s", "duration_s"]].assign(
            device_id=frame["device_id"].astype(str), store="demo-fashion"
        )
        return pa.Table.from_pandas(out, preserve_index=False)

    engine = DuckDBEngine(threads=1)
    try:
        engine.register_table("visits", table(visits))
        engine.register_table("dwells", table(dwells))
        engine.register_table(
            "decisions",
            pa.Table.from_pandas(
                crm.decisions[["device_id", "customer_id", "decided_s", "outcome"]],
                preserve_index=False,
            ),
        )
        engine.register_table(
            "purchases",
            pa.Table.from_pandas(crm.purchases[["customer_id", "at_s"]], preserve_index=False),
        )
        groups = engine.table(welcome(PURCHASE_GRACE_S)).to_pandas()
    finally:
        engine.close()
    got = uplift_of_groups(groups, store_visits=len(visits))
    for key, value in got.funnel.items():
        assert want.funnel[key] == value, key
    assert got.purchase_rate == pytest.approx(want.purchase_rate)
    assert got.purchase_uplift == pytest.approx(want.purchase_uplift)
    assert got.dwell_after_s == pytest.approx(want.dwell_after_s)
    assert got.dwell_uplift == pytest.approx(want.dwell_uplift)
    assert want.dwell_uplift[0] > 0  # the dwell figures are not all zero
