"""Accuracy on the recorded and scripted scenes must not regress against the committed baseline.

Same rule as tests/positioning/test_accuracy_regression.py: a figure may be at most 5 %
worse than in benchmarks/accuracy_baseline.json, here the tracker's mean over
``accuracy.REGRESSION_SEEDS`` seeds (one seed's figures move ~10 % with the CPU's SIMD level).
After an intended change, rerun ``python benchmarks/accuracy.py --scenarios real scripted
--write-baseline`` and commit it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import accuracy

TOLERANCE = 0.05
#: The long scripted scene costs a minute; the rest run in seconds.
FAST = [n for n in accuracy.SCENES if n != "lab-six-spots-3h"]


def worse(now: dict[str, Any], base: dict[str, Any]) -> list[str]:
    problems = []
    for key, larger_is_better in accuracy.TRACKED_SCENE:
        # JSON keeps a figure a scene cannot have (zones where it has none) as null.
        a, b = (math.nan if v is None else float(v) for v in (now[key], base[key]))
        if math.isnan(b):
            continue
        limit = b * (1 - TOLERANCE) if larger_is_better else b * (1 + TOLERANCE)
        if math.isnan(a) or ((a < limit) if larger_is_better else (a > limit)):
            problems.append(f"{key}: {a:.3f} vs baseline {b:.3f}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    # three seeds of three simulated hours: up to ~8 min on a loaded machine
    [*FAST, pytest.param("lab-six-spots-3h", marks=[pytest.mark.slow, pytest.mark.timeout(900)])],
)
def test_scene_does_not_regress(name: str, tmp_path: Path) -> None:
    baseline = json.loads(accuracy.BASELINE.read_text(encoding="utf-8"))
    base = baseline.get(name, {}).get("tracker_over_seeds")
    assert base, f"no baseline over seeds for {name}: rerun the harness with --write-baseline"
    assert worse(accuracy.tracker_over_seeds(name, tmp_path), base) == []


def test_the_scene_comparison_catches_a_regression() -> None:
    base = {"median_m": 1.0, "p90_m": 2.0, "within_2sigma": 0.9, "zone_accuracy": math.nan}
    assert worse({**base, "median_m": 1.04}, base) == []
    assert len(worse({**base, "median_m": 1.06, "within_2sigma": 0.8}, base)) == 2
