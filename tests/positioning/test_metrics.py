"""Accuracy metrics on small hand-made truths and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from positioning.layout import load_layout
from positioning.metrics import (
    CrbRadio,
    Detected,
    Intervals,
    Truth,
    crb_ratio,
    error_summary,
    evaluate,
    interpolate_truth,
    match_intervals,
    precision_recall,
)

FASHION = Path(__file__).resolve().parents[2] / "examples" / "stores" / "fashion.toml"


def test_truth_is_interpolated_per_device_and_not_extrapolated() -> None:
    t = np.array([0.0, 10.0, 0.0, 10.0])
    dev = np.array(["a", "a", "b", "b"])
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [5.0, 15.0]])
    got = interpolate_truth(
        np.array([5.0, 5.0, 11.0, 1.0]), np.array(["a", "b", "a", "z"]), t, dev, xy
    )
    assert got[0] == pytest.approx([5.0, 0.0]) and got[1] == pytest.approx([5.0, 10.0])
    assert np.isnan(got[2]).all() and np.isnan(got[3]).all()


def test_truth_is_not_interpolated_across_a_gap_longer_than_max_gap() -> None:
    t = np.array([0.0, 1.0, 10.0, 11.0])
    dev = np.array(["a"] * 4)
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    at = np.array([0.0, 0.5, 5.0, 10.5, 11.0])
    got = interpolate_truth(at, np.array(["a"] * 5), t, dev, xy, max_gap_s=2.0)
    assert got[:, 0][[0, 1, 3, 4]] == pytest.approx([0.0, 0.5, 10.5, 11.0])
    assert np.isnan(got[2]).all()
    assert interpolate_truth(at, np.array(["a"] * 5), t, dev, xy)[2, 0] == pytest.approx(5.0)


def test_matching_is_one_to_one_by_largest_overlap() -> None:
    truth = Intervals.of(["a", "a", "b"], [0.0, 100.0, 0.0], [50.0, 150.0, 50.0])
    found = Intervals.of(
        ["a", "a", "a", "b"], [10.0, 40.0, 120.0, 60.0], [45.0, 60.0, np.nan, 70.0]
    )
    match = match_intervals(truth, found)
    assert match.tolist() == [0, 2, -1]  # b's found dwell does not overlap
    pr = precision_recall(truth, found)
    assert (pr["matched"], pr["precision"], pr["recall"]) == (2, 0.5, pytest.approx(2 / 3))


def test_error_summary_ignores_unscored_fixes() -> None:
    s = error_summary(np.array([1.0, 2.0, 3.0, np.nan]))
    assert s["n"] == 3 and s["median_m"] == 2.0 and s["mean_m"] == 2.0


def test_crb_ratio_is_error_over_bound() -> None:
    layout = load_layout(FASHION)
    pts = np.array([[15.0, 10.0], [5.0, 5.0]])
    r = crb_ratio(np.array([1.0, 1.0]), pts, layout, CrbRadio(2.0, 4.0, 1.5))
    assert r["bound_median_m"] > 0 and r["error_over_bound"] == pytest.approx(
        1.0 / r["bound_median_m"]
    )


def test_evaluate_scores_a_perfect_run_as_perfect() -> None:
    layout = load_layout(FASHION)
    t = np.arange(0.0, 60.0, 1.0)
    xy = np.column_stack([np.full(60, 15.0), np.linspace(-2.0, 10.0, 60)])  # walks in
    names = np.array([z.name for z in layout.zones] + [""])
    zone = names[layout.zone_of(xy)]
    enter_t = float(np.interp(0.0, xy[:, 1], t))
    truth = Truth(
        t, np.full(60, "s"), xy,
        Intervals.of(["s", "p"], [enter_t, np.nan], [np.nan, np.nan]), np.array(["shopper", "passerby"]),
        Intervals.of(["s"], [20.0], [np.nan]), Intervals.of(["s"], [40.0], [59.0]), np.array(["accessories"]),
    )  # fmt: skip
    found = Detected(
        t, np.full(60, "s"), xy, zone,
        Intervals.of(["s"], [enter_t], [np.nan]), np.array([enter_t + 2.0]), np.array([np.nan]),
        1, Intervals.of(["s"], [41.0], [59.0]),
    )  # fmt: skip
    r = evaluate(truth, found, layout, CrbRadio(2.0, 4.0, 1.5))
    assert r["position_error"]["median_m"] == 0.0
    assert r["zone_accuracy"] == 1.0 and r["zone_enters_per_true_visit"] == 1.0
    assert r["dwell"]["f1"] == 1.0
    visits = r["visits"]
    assert visits["enter_recall"] == 1.0 and visits["passersby_counted_as_visitors"] == 0
    assert visits["enter_latency"]["median_s"] == pytest.approx(2.0)
