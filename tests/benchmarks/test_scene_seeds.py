"""The harness's figures over several seeds are the means of the single-seed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import accuracy


@pytest.mark.slow
def test_scene_seeds_average_the_single_seed_runs(tmp_path: Path) -> None:
    name, locators = "espresense-stationary", ("centroid", "tracker")
    single = [accuracy.run_scene(name, tmp_path, locators=locators, seed=seed) for seed in (0, 1)]
    merged = accuracy.run_scene_seeds(name, tmp_path, None, locators, 2)
    for loc in locators:
        for key in ("median_m", "p90_m", "within_2sigma"):
            assert merged[loc][key] == pytest.approx(
                (single[0][loc][key] + single[1][loc][key]) / 2
            )
        assert merged[loc]["median_m_by_seed"] == [round(r[loc]["median_m"], 3) for r in single]
    # the tracker draws from its seed; the centroid does not
    assert single[0]["tracker"]["median_m"] != single[1]["tracker"]["median_m"]
    assert single[0]["centroid"]["median_m"] == single[1]["centroid"]["median_m"]
