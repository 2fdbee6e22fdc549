"""The store.exit events on days kept by ``plan_door.py --keep``: right or wrong, and what the
tracker's posterior said while the fix stood in the street.

For each store.exit of the replayed rules (the shipped ones, or ``--store key=value``): the
device's true position at the exit's epoch (inside the store: a wrong exit, the visit split in
two), and the tracker's ``p_inside`` over the three epochs of the street run (the exit's epoch
and the two before), and how long after its store.enter the exit came. Prints the wrong exits
one by one and the ``p_inside`` distribution of right and wrong exits.

    python benchmarks/door_exits.py --keep /tmp/k --stores fashion --seeds 6 --layouts "as hung"
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

from benchmarks.plan_door import STORES, kept_day, kept_day_arguments, replay_kept_day  # noqa: E402
from positioning.engine import EngineParams  # noqa: E402
from positioning.events import STORE_ENTER, STORE_EXIT  # noqa: E402
from positioning.visits.store import EntranceDepth  # noqa: E402

#: the engine's reorder buffer on this path (EngineParams().reorder_s), seconds
REORDER_S = EngineParams().reorder_s


def exits(store: Path, sim_dir: Path, seed: int, params: EngineParams) -> list[dict[str, Any]]:
    layout, truth, fixes, out = replay_kept_day(store, sim_dir, seed, params)
    depth = EntranceDepth(layout)
    series: dict[str, dict[float, tuple[float, float]]] = {}
    for t in sorted(fixes):
        f = fixes[t]
        d_m = depth(f.xy_m)
        for i, d in enumerate(f.device_id.tolist()):
            p = np.nan if f.p_inside is None else float(f.p_inside[i])
            series.setdefault(d, {})[t] = (p, float(d_m[i]))
    last_enter: dict[str, float] = {}
    rows = []
    v = truth.visits
    for e in sorted(out.events, key=lambda e: e.detected_at_s):
        if e.type == STORE_ENTER:
            last_enter[e.device_id] = e.detected_at_s
            continue
        if e.type != STORE_EXIT:
            continue
        t = float(round(e.detected_at_s - REORDER_S))  # the epoch (whole seconds here)
        s = series.get(e.device_id, {})
        run = [s[k] for k in (t - 2.0, t - 1.0, t) if k in s]
        sel = truth.samples_device == e.device_id
        tt, xy = truth.samples_t_s[sel], truth.samples_xy_m[sel]
        true_depth = float(
            depth(np.array([[np.interp(t, tt, xy[:, 0]), np.interp(t, tt, xy[:, 1])]]))[0]
        )
        mine = (v.device_id == e.device_id) & (v.start_s <= t)
        ends = v.end_s[mine]
        # inside by the truth: a visit of the device that began before and ends >= 5 s later
        inside = bool(np.any(~np.isfinite(ends) | (ends >= t + 5.0))) and true_depth > 0.0
        # how the street run went on: its length (epochs at depth <= -1 m from t - 2), the
        # device's fixes left (until it went unheard) and the next fix back inside
        later = sorted(k for k in s if k >= t - 2.0)
        run_len = 0
        for k in later:
            if s[k][1] > -1.0:
                break
            run_len += 1
        back = [k - t for k in later if k > t and s[k][1] > 0.0]
        rows.append(
            {
                "run_epochs": run_len,
                "heard_after_s": (later[-1] - t) if later else 0.0,
                "back_in_s": back[0] if back else np.nan,
                "seed": seed,
                "device": e.device_id,
                "t": t,
                "street_run": len(run) == 3 and all(r[1] <= -1.0 for r in run),
                "wrong": inside,
                "true_depth": true_depth,
                "p_max": max((r[0] for r in run), default=np.nan),
                "p": [round(r[0], 3) for r in run],
                "depth": [round(r[1], 2) for r in run],
                "after_enter": e.detected_at_s - last_enter.get(e.device_id, np.nan),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    kept_day_arguments(parser)
    parser.add_argument("--layouts", nargs="+", default=["as hung"], choices=["as hung", "planned"])
    parser.add_argument("--store", nargs="*", default=[], help="store rule settings, key=value")
    args = parser.parse_args()
    changes = {}
    for kv in args.store:
        k, val = kv.split("=")
        changes[k] = None if val == "None" else float(val)
    base = EngineParams()
    params = dataclasses.replace(base, store=dataclasses.replace(base.store, **changes))
    for name in args.stores:
        for label in args.layouts:
            store = (
                STORES / f"{name}.toml" if label == "as hung" else args.planned_dir / f"{name}.toml"
            )
            rows = []
            for seed in range(1, args.seeds + 1):
                sim_dir = kept_day(args.keep, store, seed, args.shoppers, args.minutes)
                rows += exits(store, sim_dir, seed, params)
            street = [r for r in rows if r["street_run"]]
            wrong = [r for r in street if r["wrong"]]
            right = [r for r in street if not r["wrong"]]
            print(
                f"{name} {label}: {len(rows)} exits, {len(street)} from the street, "
                f"{len(wrong)} of them wrong"
            )
            for r in street:
                print(
                    f"  {'WRONG' if r['wrong'] else 'right'} seed {r['seed']} {r['device'][:8]} t {r['t']:.0f} after enter "
                    f"{r['after_enter']:.0f} s, true depth {r['true_depth']:.1f}, "
                    f"p_inside {r['p']}, depth {r['depth']}, street run {r['run_epochs']} "
                    f"epochs, heard {r['heard_after_s']:.0f} s more, back in after "
                    f"{r['back_in_s']:.0f} s"
                )
            for label2, group in (("right", right), ("wrong", wrong)):
                pm = np.array([r["p_max"] for r in group])
                if len(pm):
                    qs = np.percentile(pm, [10, 50, 90, 100])
                    print(
                        f"  {label2}: max p_inside over the street run p10/p50/p90/max "
                        f"{qs[0]:.3f} / {qs[1]:.3f} / {qs[2]:.3f} / {qs[3]:.3f}; "
                        f"> 0.025: {int((pm > 0.025).sum())}, > 0.1: {int((pm > 0.1).sum())}"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
