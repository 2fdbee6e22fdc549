"""Accuracy must not regress: rerun the small seeded scenario, compare with the committed baseline.

A figure may be at most 5 % worse than in benchmarks/accuracy_baseline.json (errors
5 % larger, accuracies/recalls 5 % smaller). After an intended change, regenerate the
baseline with ``python benchmarks/accuracy.py --write-baseline`` and commit it.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from benchmarks import accuracy

#: Allowed relative regression.
TOLERANCE = 0.05


def harness() -> ModuleType:
    return accuracy


@pytest.fixture(scope="module")
def rerun(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ModuleType, dict[str, Any], dict[str, Any]]:
    h = harness()
    baseline = json.loads(h.BASELINE.read_text(encoding="utf-8"))
    assert "regression" in baseline, "the baseline has no regression scenario: rerun the harness"
    return (
        h,
        baseline["regression"],
        h.run_scenario(h.SCENARIOS["regression"], tmp_path_factory.mktemp("acc")),
    )


def worse(h: ModuleType, now: dict[str, Any], base: dict[str, Any]) -> list[str]:
    problems = []
    for path, larger_is_better in h.TRACKED:
        a, b = h.pick(now, path), h.pick(base, path)
        limit = b * (1 - TOLERANCE) if larger_is_better else b * (1 + TOLERANCE)
        if (a < limit) if larger_is_better else (a > limit):
            problems.append(f"{'.'.join(path)}: {a:.3f} vs baseline {b:.3f}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("locator", ["tracker", "centroid"])
def test_accuracy_does_not_regress(
    rerun: tuple[ModuleType, dict[str, Any], dict[str, Any]], locator: str
) -> None:
    h, base, now = rerun
    assert worse(h, now[locator], base[locator]) == []


def test_the_comparison_catches_a_regression() -> None:
    h = harness()
    base = {"position_error_in_store": {"median_m": 1.0, "p90_m": 2.0}, "zone_accuracy": 0.9,
            "dwell": {"f1": 0.9}, "visits": {"enter_recall": 1.0}}  # fmt: skip
    slightly = json.loads(json.dumps(base))
    slightly["position_error_in_store"]["median_m"] = 1.04
    assert worse(h, slightly, base) == []
    bad = json.loads(json.dumps(base))
    bad["position_error_in_store"]["median_m"] = 1.06
    bad["zone_accuracy"] = 0.85
    assert len(worse(h, bad, base)) == 2
