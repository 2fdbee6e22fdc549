"""Where a visit's enter latency goes, per visit, on days kept by ``plan_door.py --keep``.

For each shopper's true door crossing (t0), on the tracker's recorded fixes of that device:

- ``depth``: the first epoch at which the true position lies 0.70 m inside (where a
  zero-radius fix reaches the rule's 0.99; what true positions wait for);
- ``fix_in``: the first epoch from t0 - 10 s with the tracker's fix past the front;
- ``p50`` ... ``p99``: the first epoch from t0 - 10 s with the tracker's ``p_inside`` at
  0.5, 0.9, 0.975 and 0.99 (the last two: the rule's thresholds);
- ``det``: the store.enter's detection time (the engine's epoch + its reorder buffer).

Times are seconds after t0; medians and p90 over the visits entered from the street.

    python benchmarks/plan_door.py --stores fashion --seeds 6 --layouts planned \\
        --planned-dir examples/stores/planned/street-plan --engines tracker --keep /tmp/k
    python benchmarks/door_breakdown.py --keep /tmp/k --stores fashion --seeds 6 \\
        --planned-dir examples/stores/planned/street-plan
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.accuracy import START_S  # noqa: E402
from benchmarks.plan_door import kept_day, kept_day_arguments, replay_kept_day  # noqa: E402
from positioning.events import STORE_ENTER  # noqa: E402
from positioning.visits.store import EntranceDepth  # noqa: E402

#: depth at which a zero-radius fix is 0.99 inside (2.33 x the 0.3 m sigma floor), m
SURE_DEPTH_M = 0.70


def _first(ts: np.ndarray, ok: np.ndarray, t0: float) -> float:
    hit = np.flatnonzero(ok & (ts >= t0))
    return float(ts[hit[0]]) if len(hit) else math.nan


def visits(store: Path, sim_dir: Path, seed: int) -> list[dict[str, float | str]]:
    layout, truth, fixes, out = replay_kept_day(store, sim_dir, seed)
    depth = EntranceDepth(layout)
    enters: dict[str, list[tuple[float, float]]] = {}
    for e in out.events:
        if e.type == STORE_ENTER:
            enters.setdefault(e.device_id, []).append((e.time_s, e.detected_at_s))
    series: dict[str, list[tuple[float, float, float, float]]] = {}
    for t in sorted(fixes):
        f = fixes[t]
        p = f.p_inside  # type: ignore[attr-defined]
        for i, d in enumerate(f.device_id.tolist()):  # type: ignore[attr-defined]
            x, y = f.xy_m[i]  # type: ignore[attr-defined]
            series.setdefault(d, []).append((t, np.nan if p is None else p[i], x, y))
    rows: list[dict[str, float | str]] = []
    v = truth.visits
    for i in range(len(v)):
        if truth.visit_kind[i] != "shopper" or not np.isfinite(v.start_s[i]):
            continue
        d, t0 = str(v.device_id[i]), float(v.start_s[i])
        s = np.array(series.get(d, []), dtype=np.float64).reshape(-1, 4)
        if not len(s) or s[0, 0] > t0 - 1.0:
            continue  # heard only at or after the crossing: not a walk-in from the street
        ts, p = s[:, 0], s[:, 1]
        sel = truth.samples_device == d
        tt, xy = truth.samples_t_s[sel], truth.samples_xy_m[sel]
        true_depth = depth(
            np.column_stack([np.interp(ts, tt, xy[:, 0]), np.interp(ts, tt, xy[:, 1])])
        )
        fix_depth = depth(s[:, 2:4])
        det = [b for a, b in enters.get(d, []) if a >= t0 - 30.0]
        rows.append(
            {
                "device": d,
                "seed": seed,
                "t0": t0,
                "heard": float(ts[0]) - t0,
                "depth": _first(ts, true_depth >= SURE_DEPTH_M, t0) - t0,
                "fix_in": _first(ts, fix_depth > 0.0, t0 - 10.0) - t0,
                "p50": _first(ts, p >= 0.5, t0 - 10.0) - t0,
                "p90": _first(ts, p >= 0.9, t0 - 10.0) - t0,
                "p975": _first(ts, p >= 0.975, t0 - 10.0) - t0,
                "p99": _first(ts, p >= 0.99, t0 - 10.0) - t0,
                "det": (det[0] - t0) if det else math.nan,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    kept_day_arguments(parser)
    parser.add_argument("--rows", type=Path, help="write the per-visit rows here (pickle)")
    args = parser.parse_args()
    keys = ("heard", "depth", "fix_in", "p50", "p90", "p975", "p99", "det")
    everything = []
    for name in args.stores:
        store = args.planned_dir / f"{name}.toml"
        rows = []
        for seed in range(1, args.seeds + 1):
            sim_dir = kept_day(args.keep, store, seed, args.shoppers, args.minutes)
            rows += visits(store, sim_dir, seed)
        everything += [{**r, "store": name} for r in rows]
        print(f"{name}: {len(rows)} walk-ins (START_S {START_S})")
        for k in keys:
            a = np.array([r[k] for r in rows], dtype=np.float64)
            ok = a[np.isfinite(a)]
            print(
                f"  {k:8} p50 {np.median(ok):6.2f}  p90 {np.percentile(ok, 90):6.2f}  "
                f"missing {int((~np.isfinite(a)).sum())}"
            )
        gap = np.array([r["det"] - min(r["p99"], r["p975"] + 1.0) for r in rows], dtype=np.float64)
        ok = gap[np.isfinite(gap)]
        print(
            f"  det - min(p99, p975 + 1): p50 {np.median(ok):.2f} p90 {np.percentile(ok, 90):.2f}"
        )
    if args.rows:
        args.rows.write_bytes(pickle.dumps(everything))
    return 0


if __name__ == "__main__":
    sys.exit(main())
