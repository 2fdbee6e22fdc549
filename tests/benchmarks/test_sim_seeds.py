"""The harness's simulated days over several seeds are the means of the single-seed runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks import accuracy

# the regression day, shortened: the averaging is what is under test, not the figures
SHORT = dataclasses.replace(accuracy.SCENARIOS["regression"], shoppers=4, duration_s=180.0)
LOCATORS = ("centroid", "tracker")


def test_sim_seeds_average_the_single_seed_runs(tmp_path: Path) -> None:
    single = [
        accuracy.run_scenario(
            dataclasses.replace(SHORT, seed=seed), tmp_path / str(seed), locators=LOCATORS
        )
        for seed in (SHORT.seed, SHORT.seed + 100)
    ]
    merged = accuracy.run_scenario_seeds(SHORT, tmp_path / "merged", None, LOCATORS, 2)
    for loc in (*LOCATORS, "truth"):
        for path in (
            ("position_error_in_store", "median_m"),
            ("position_error_in_store", "p90_m"),
            ("sigma", "within_2sigma"),
            ("zone_accuracy",),
        ):
            values = [accuracy.pick(run[loc], path) for run in single]
            assert accuracy.pick(merged[loc], path) == pytest.approx(sum(values) / 2)
    assert merged["tracker"]["median_m_by_seed"] == [
        round(run["tracker"]["position_error_in_store"]["median_m"], 3) for run in single
    ]
    # the second seed simulates another day: the observations differ, and so the errors
    assert single[0]["observations"] != single[1]["observations"]
    assert merged["observations"] == pytest.approx(
        (single[0]["observations"] + single[1]["observations"]) / 2
    )


def test_one_seed_is_the_single_run(tmp_path: Path) -> None:
    one = accuracy.run_scenario_seeds(SHORT, tmp_path / "a", None, ("centroid",), 1)
    plain = accuracy.run_scenario(SHORT, tmp_path / "b", locators=("centroid",))
    assert (
        one["centroid"]["position_error_in_store"] == plain["centroid"]["position_error_in_store"]
    )
    assert "median_m_by_seed" not in one["centroid"]


def test_mean_of_keeps_what_does_not_vary() -> None:
    runs = [
        {"n": 3, "kind": "sim", "lat": {"median_s": 2.0}, "x": 1},
        {"n": 3, "kind": "sim", "lat": {"median_s": None}, "x": 2},
    ]
    assert accuracy.mean_of(runs) == {"n": 3, "kind": "sim", "lat": {"median_s": 2.0}, "x": 1.5}


def test_write_baseline_refuses_sim_seeds() -> None:
    with pytest.raises(SystemExit):
        accuracy.main(["--write-baseline", "--sim-seeds", "2"])
