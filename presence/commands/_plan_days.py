"""Simulated days for ``instore plan``: the same engine and metrics as ``instore evaluate``,
run on the layout as hung and on the proposal, over a few seeds."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from positioning.engine import Engine, EngineOutput
from positioning.layout import load_layout
from positioning.metrics import evaluate
from presence.commands.evaluate import detected, load_truth, radio_model
from sim.obslog import read_observation_log
from sim.params import ScanParams, SimConfig
from sim.run import simulate

__all__ = ["DayParams", "compare_days", "day_figures"]

#: A Monday 10:00 UTC, inside the arrival profile's opening hours (as benchmarks/accuracy.py).
START_S = 1_763_978_400.0
#: Rows per engine push, as instore locate uses.
PUSH_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class DayParams:
    shoppers: int = 30
    duration_s: float = 1200.0
    seeds: tuple[int, ...] = (1, 2)
    topology: str = "phone"


def day_figures(store: Path, params: DayParams, seed: int, work: Path) -> dict[str, Any]:
    """One simulated day on ``store``, located by the engine and scored against the truth."""
    config = SimConfig(
        shoppers=params.shoppers,
        duration_s=params.duration_s,
        start_s=START_S,
        seed=seed,
        scan=ScanParams(topology=params.topology),
    )
    sim_dir = work / f"{store.stem}-{seed}"
    simulate(store, config, sim_dir)
    layout = load_layout(store)
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    engine = Engine(layout, seed=seed)
    batch = log.batch
    outs = [
        engine.push(batch.take(np.arange(i, min(i + PUSH_ROWS, len(batch)))))
        for i in range(0, len(batch), PUSH_ROWS)
    ]
    out = EngineOutput.concat([*outs, engine.finish()])
    p = out.positions
    found = detected(p.t_s, p.device_id, np.column_stack([p.x_m, p.y_m]), p.zone, list(out.events))
    return evaluate(load_truth(sim_dir), found, layout, radio_model(sim_dir, layout))


def compare_days(
    layouts: dict[str, Path], params: DayParams, progress: Callable[[int], None] | None = None
) -> pd.DataFrame:
    """A row per layout: figures averaged over the seeds (passers-by summed)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="instore-plan-") as tmp:
        for label, store in layouts.items():
            reports = []
            for seed in params.seeds:
                reports.append(day_figures(store, params, seed, Path(tmp)))
                if progress:
                    progress(1)
            rows.append({"layout": label, **_pooled(reports)})
    return pd.DataFrame(rows)


def _pooled(reports: list[dict[str, Any]]) -> dict[str, float | int]:
    def mean(get: Callable[[dict[str, Any]], Any]) -> float:
        values = [float(v) for v in (get(r) for r in reports) if v is not None]
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return {
        "error_median_m": mean(lambda r: r["position_error_in_store"]["median_m"]),
        "error_p90_m": mean(lambda r: r["position_error_in_store"]["p90_m"]),
        "zone_accuracy": mean(lambda r: r["zone_accuracy"]),
        "enter_p50_s": mean(lambda r: r["visits"]["enter_latency"]["median_s"]),
        "enter_p90_s": mean(lambda r: r["visits"]["enter_latency"]["p90_s"]),
        "enter_recall": mean(lambda r: r["visits"]["enter_recall"]),
        "passersby_counted": int(
            sum(r["visits"]["passersby_counted_as_visitors"] for r in reports)
        ),
    }
