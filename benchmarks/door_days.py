"""The presence rules' variants on the accuracy harness's simulated reference days, replayed.

The store rules never feed back into the tracker, so its fixes on a day (the harness's
scenario, seed and defaults: ``benchmarks/accuracy.py --scenarios sim regression --locators
tracker``) are recorded once (``--keep DIR``) and replayed to each variant of the store
rules: the same figures the harness prints for that day, for each rule set, in seconds.

    python benchmarks/door_days.py --keep /tmp/days --variants shipped "lead 0.9 near 6"
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.accuracy import GROUPS, SCENARIOS, STORES, locate, simulate_scenario  # noqa: E402
from benchmarks.plan_door import FIXES_FILE, Replayed  # noqa: E402
from positioning.engine import EngineParams  # noqa: E402
from positioning.layout import load_layout  # noqa: E402
from positioning.metrics import evaluate  # noqa: E402
from positioning.registry import build_locator, locator_config  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402
from sim.scoring import detected, load_truth, radio_model  # noqa: E402

#: store rule settings of each variant (positioning.visits.store.StoreParams)
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "lead 0.9 near 6": {"enter_lead_p": 0.9, "enter_lead_reach_m": 6.0},
    "exit p 0.5": {"exit_p": 0.5},
    "exit p 0.1": {"exit_p": 0.1},
    "exit p 0.025": {"exit_p": 0.025},
    "lead 0.9 near 6 + exit p 0.5": {
        "enter_lead_p": 0.9,
        "enter_lead_reach_m": 6.0,
        "exit_p": 0.5,
    },
    "lead 0.9 near 6 + exit p 0.1": {
        "enter_lead_p": 0.9,
        "enter_lead_reach_m": 6.0,
        "exit_p": 0.1,
    },
    "lead 0.9 near 6 + exit p 0.025": {
        "enter_lead_p": 0.9,
        "enter_lead_reach_m": 6.0,
        "exit_p": 0.025,
    },
    "lead 0.9 near 4 + exit p 0.025": {
        "enter_lead_p": 0.9,
        "enter_lead_reach_m": 4.0,
        "exit_p": 0.025,
    },
    "lead 0.7 near 6 + exit p 0.1": {
        "enter_lead_p": 0.7,
        "enter_lead_reach_m": 6.0,
        "exit_p": 0.1,
    },
}


def day(name: str, work: Path, variants: list[str]) -> dict[str, dict[str, Any]]:
    scenario = SCENARIOS[name]
    sim_dir = work / name
    if not (sim_dir / "meta.json").exists():
        simulate_scenario(scenario, work)
    store = STORES / scenario.store
    layout = load_layout(store)
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    truth = load_truth(sim_dir)
    radio = radio_model(sim_dir, layout)
    tracker = Replayed(build_locator(locator_config("tracker"), layout, seed=scenario.seed))
    fixes_file = sim_dir / FIXES_FILE
    tracker.load(fixes_file)
    base = EngineParams()
    out = {}
    for variant in variants:
        params = dataclasses.replace(
            base, store=dataclasses.replace(base.store, **VARIANTS[variant])
        )
        recording = not tracker.recorded
        result, _ = locate(
            store, log.batch, tracker, scenario.seed, params if not recording else base
        )
        if recording:
            tracker.replay().save(fixes_file)
            if VARIANTS[variant]:
                result, _ = locate(store, log.batch, tracker, scenario.seed, params)
        p = result.positions
        found = detected(
            p.t_s, p.device_id, np.column_stack([p.x_m, p.y_m]), p.zone, list(result.events)
        )
        out[variant] = evaluate(truth, found, layout, radio)
    return out


def line(r: dict[str, Any]) -> str:
    v = r["visits"]
    return (
        f"{v['enter_latency']['median_s']:6.1f} {v['enter_latency']['p90_s']:6.1f} "
        f"{v['exit_latency']['median_s']:6.1f} {v['exit_latency']['p90_s']:6.1f} "
        f"{v['passersby_counted_as_visitors']:5d} {v['extra_visits']:5d} "
        f"{v['detected_visits']:5d} {v['enter_recall']:6.3f} {v['exit_recall']:6.3f} "
        f"{r['zone_accuracy']:6.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, required=True)
    parser.add_argument("--days", nargs="+", default=[*GROUPS["sim"], "regression"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    print(
        f"{'day':26} {'variant':32} {'enter p50':>9} {'p90':>6} {'exit p50':>8} {'p90':>6} "
        f"{'pass':>5} {'extra':>5} {'vis':>5} {'recall':>6} {'exrec':>6} {'zone':>6}"
    )
    for name in args.days:
        for variant, r in day(name, args.keep, args.variants).items():
            print(f"{name:26} {variant:32} {line(r)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
