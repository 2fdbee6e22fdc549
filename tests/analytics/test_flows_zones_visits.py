from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_synth import T0, positions

from analytics.flows import flows
from analytics.intervals import make_intervals, zone_runs
from analytics.visits import duration_buckets, visit_stats
from analytics.zones import zone_table
from positioning.layout import Layout


def _zv(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    d, z, s, e = zip(*rows, strict=True)
    return make_intervals(d, z, np.asarray(s) + T0, np.asarray(e) + T0)


def test_flows_of_a_scripted_path(fashion: Layout) -> None:
    zv = _zv(
        [
            ("a", "entrance", 0, 20),
            ("a", "womens", 25, 100),
            ("a", "shoes", 110, 200),
            ("a", "womens", 205, 260),
            ("a", "womens", 262, 300),  # same zone again: not a transition
            ("a", "checkout", 2000, 2100),  # 1700 s later: another trip, not a transition
            ("b", "entrance", 50, 60),
            ("b", "womens", 61, 90),
        ]
    )
    f = flows(zv, fashion, k=1)
    i = {z: n for n, z in enumerate(f.zones)}
    assert f.counts[i["entrance"], i["womens"]] == 2
    assert f.devices[i["entrance"], i["womens"]] == 2
    assert f.counts[i["womens"], i["shoes"]] == 1
    assert f.counts[i["shoes"], i["womens"]] == 1
    assert f.counts.sum() == 4
    assert np.trace(f.counts) == 0
    f2 = flows(zv, fashion, k=2)
    assert f2.suppressed[i["womens"], i["shoes"]] and not f2.suppressed[i["entrance"], i["womens"]]
    assert f2.to_dict()["transitions"][i["womens"]][i["shoes"]] is None


def test_zone_runs_of_a_scripted_track(fashion: Layout) -> None:
    # 0-9 s in womens (5,5), 10-19 s in the entrance (15,2), a 60 s silence, 80-89 s in the entrance.
    t = T0 + np.concatenate([np.arange(20.0), 80 + np.arange(10.0)])
    x = np.concatenate([np.full(10, 5.0), np.full(20, 15.0)])
    zv = zone_runs(positions(t, ["a"] * 30, x, np.where(x < 10, 5.0, 2.0)), fashion, max_gap_s=10.0)
    assert list(zv["zone"]) == ["womens", "entrance", "entrance"]
    assert zv["duration_s"].tolist() == pytest.approx([9.0, 9.0, 9.0])


def test_duration_buckets_edges() -> None:
    d = pd.Series([60.0, 299.0, 300.0, 1199.0, 1200.0, 3600.0, 21599.0, 21600.0, 90000.0])
    assert duration_buckets(d).tolist() == [2, 2, 1, 2, 2]


def test_visit_stats_capture_and_repeat() -> None:
    visits = make_intervals(
        ["a", "b", "a", "s"],
        ["", "", "", ""],
        [T0, T0 + 100, T0 + 7200, T0],
        [T0 + 400, T0 + 2000, T0 + 7300, T0 + 30000],
    )
    roles = pd.Series(
        {"a": "visitor", "b": "visitor", "s": "staff", "p1": "passerby", "p2": "passerby"}
    )
    s = visit_stats(visits, roles)
    assert (s.visits, s.visitors, s.passersby, s.staff) == (3, 2, 2, 1)
    assert s.capture_rate == pytest.approx(0.5)
    assert (s.new_visits, s.repeat_visits) == (2, 1)
    assert s.per_hour.sum() == 3 and len(s.per_hour) == 3  # the empty middle hour is shown
    assert s.buckets.tolist() == [1, 1, 1, 0, 0]  # 100 s, 400 s, 1900 s; staff left out


def test_zone_table_known_values_and_suppression(fashion: Layout) -> None:
    visits = make_intervals(
        ["a", "b", "c"], [""] * 3, [T0, T0, T0 + 5000], [T0 + 1000, T0 + 1000, T0 + 6000]
    )
    zv = _zv(
        [
            ("a", "womens", 10, 100),
            ("a", "womens", 300, 400),
            ("b", "womens", 10, 50),
            ("c", "shoes", 5010, 5100),
        ]
    )
    dwells = _zv([("a", "womens", 20, 80), ("a", "womens", 310, 340), ("b", "womens", 20, 50)])
    table = zone_table(fashion, zv, dwells, visits, k=1).set_index("zone")
    w = table.loc["womens"]
    assert (w["visitors"], w["zone_visits"], w["dwells"]) == (2, 3, 3)
    assert w["share_of_visits"] == pytest.approx(2 / 3)
    assert w["dwell_median_s"] == pytest.approx(30.0)
    assert w["dwell_p90_s"] == pytest.approx(54.0)
    assert table.loc["shoes", "share_of_visits"] == pytest.approx(1 / 3)
    assert table.loc["kids", "visitors"] == 0 and not table.loc["kids", "suppressed"]
    hidden = zone_table(fashion, zv, dwells, visits, k=2).set_index("zone")
    assert hidden.loc["shoes", "suppressed"] and np.isnan(hidden.loc["shoes", "visitors"])
    assert hidden.loc["womens", "visitors"] == 2
