"""Greedy placement: add, one at a time, the candidate that improves the layout most.

The score weighs three things equally, each relative to the layout as it stands: the
mean position bound, the mean zone confusion and the walk-in enter latency. A radio
that halves the door's latency is worth as much as one that halves the bound
everywhere. Greedy selection of sensors for an information criterion is the usual
practical method (Krause, Singh & Guestrin, "Near-optimal sensor placements in Gaussian
processes", JMLR 9, 2008); every term here adds over radios, so a candidate is priced
by one addition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planning.assess import Assessment, assess
from planning.floor import Floor
from planning.information import Information, Radios, information_of
from planning.mounting import Candidate
from planning.radio import PlanRadio
from positioning.layout import Layout

__all__ = ["Step", "recommend", "score"]

#: Default advertising interval of an added beacon, ms (the reference stores' 100 ms).
ADDED_ADV_INTERVAL_MS = 100.0


@dataclass(frozen=True, slots=True)
class Step:
    """One added radio and the layout's figures once it hangs."""

    candidate: Candidate
    after: Assessment


def score(a: Assessment, reference: Assessment) -> float:
    """Lower is better; 3.0 for the reference itself."""
    parts = [
        float(np.mean(a.bound_m)) / max(float(np.mean(reference.bound_m)), 1e-9),
        (a.mean_confusion + 1e-3) / (reference.mean_confusion + 1e-3),
    ]
    if np.isfinite(reference.enter_latency_s):
        parts.append(a.enter_latency_s / max(reference.enter_latency_s, 1e-9))
    else:
        parts.append(1.0)
    return float(sum(parts))


def recommend(
    layout: Layout,
    floor: Floor,
    radio: PlanRadio,
    base: Information,
    options: list[Candidate],
    count: int,
    tx_power_dbm: float,
    progress: Callable[[int], None] | None = None,
) -> list[Step]:
    """Up to ``count`` steps; stops early when no candidate improves the score."""
    if count <= 0 or not options:
        return []
    zones = [z.name for z in layout.zones]
    radios = Radios(
        np.array([[c.x_m, c.y_m, c.z_m] for c in options]),
        np.full(len(options), tx_power_dbm),
        np.full(len(options), ADDED_ADV_INTERVAL_MS),
    )
    extra = information_of(layout, floor, radio, radios)
    if progress:
        progress(1)
    total = base.total()
    reference = assess(total, floor, radio, zones)
    steps: list[Step] = []
    free = list(range(len(options)))
    for _ in range(count):
        current = score(assess(total, floor, radio, zones), reference)
        trials = [
            (score(assess(total.plus(extra.pick(i)), floor, radio, zones), reference), i)
            for i in free
        ]
        best_score, best = min(trials)
        if best_score >= current - 1e-6:
            break
        total = total.plus(extra.pick(best))
        free.remove(best)
        steps.append(Step(options[best], assess(total, floor, radio, zones)))
        if progress:
            progress(1)
    return steps
