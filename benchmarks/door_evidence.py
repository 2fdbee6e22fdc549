"""How fast the readings can tell inside from the street at the door, against the tracker's
``p_inside``, on days kept by ``plan_door.py --keep`` (issue 17; docs/positioning.md,
"Issue 17, session 30: why p_inside rises ~2 s behind the truth at the door").

The shipped tracker is run again on each kept day with its update instrumented: every
epoch it weighs a device, the same readings are also scored with the tracker's own
``radio.loglik`` (heading unknown) at the device's true position and at its mirror image
across the shop front. That log-likelihood ratio is the evidence for the true side that a
filter knowing the path but not the side would get. Printed, over the walk-ins (shoppers
heard before their true crossing):

- the ratio per epoch by true depth, and by second after the crossing;
- when an ideal filter started at 50/50 at the crossing reaches 0.5 / 0.9 / 0.975 / 0.99;
- the log-odds of the tracker's recorded ``p_inside`` by second after the crossing;
- the calibration of the recorded ``p_inside`` near the front (true position within
  ``--near`` m of it): shoppers around their entry and around their exit, passers-by.

    python benchmarks/plan_door.py --stores fashion --seeds 3 --layouts planned \\
        --planned-dir examples/stores/planned/street-plan --engines tracker --keep /tmp/k
    python benchmarks/door_evidence.py --keep /tmp/k --stores fashion --seeds 3
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.accuracy import locate  # noqa: E402
from benchmarks.plan_door import kept_day, kept_day_arguments, kept_fixes  # noqa: E402
from positioning.engine import EngineParams  # noqa: E402
from positioning.layout import load_layout  # noqa: E402
from positioning.registry import build_locator, locator_config  # noqa: E402
from positioning.tracker.filter import ParticleTracker  # noqa: E402
from positioning.tracker.radiomap import UNKNOWN_HEADING  # noqa: E402
from positioning.visits.store import EntranceDepth  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402
from sim.scoring import load_truth  # noqa: E402

#: seconds around a true crossing that are studied
BEFORE_S, AFTER_S = 10.0, 12.0
#: p_inside bins of the calibration table
BINS = (0.0, 0.025, 0.1, 0.5, 0.9, 0.975, 0.99, 0.999, 1.0001)


def _path(truth: Any, device: str) -> tuple[np.ndarray, np.ndarray]:
    sel = truth.samples_device == device
    return truth.samples_t_s[sel], truth.samples_xy_m[sel]


def evidence(store: Path, sim_dir: Path, seed: int) -> list[tuple[str, float, float, float]]:
    """(device, epoch time, true depth, log-likelihood ratio true vs mirror) per update."""
    layout = load_layout(store)
    depth = EntranceDepth(layout)
    truth = load_truth(sim_dir)
    tracker = build_locator(locator_config("tracker"), layout, seed=seed)
    assert isinstance(tracker, ParticleTracker)
    axis, line = tracker._front_line
    rows: list[tuple[str, float, float, float]] = []
    epoch_devices, update = tracker._epoch_devices, tracker._update
    current: dict[str, Any] = {}

    def on_epoch(win: Any) -> None:
        current["win"] = win
        current["slots"] = tracker._state.ensure(win.device)[0].copy()
        epoch_devices(win)

    def on_update(slots: Any, r: Any, street_s: Any, ago_s: Any) -> None:
        win = current["win"]
        idx = np.array([int(np.flatnonzero(current["slots"] == s)[0]) for s in slots])
        ids = tracker._devices.ids(win.device[idx])
        t = (win.mean_t_s if win.mean_t_s is not None else win.last_t_s)[idx]
        pts = np.full((len(slots), 2, 2), np.nan, np.float32)
        for k, (device, tk) in enumerate(zip(ids, t, strict=True)):
            tt, xy = _path(truth, str(device))
            if len(tt) and tt[0] <= tk <= tt[-1]:
                p = np.array([np.interp(tk, tt, xy[:, 0]), np.interp(tk, tt, xy[:, 1])])
                pts[k, 0] = p
                p[axis] = 2.0 * line - p[axis]
                pts[k, 1] = p
        ok = np.isfinite(pts[:, 0, 0]) & tracker.floor.is_free(np.nan_to_num(pts[:, 1], nan=-1e3))
        if ok.any():
            at = np.flatnonzero(ok)
            head = np.full((len(at), 2), UNKNOWN_HEADING, np.uint8)
            ll = tracker.radio.loglik(pts[at], r.take(at), head)
            d = depth(pts[at, 0].astype(np.float64))
            for k, j in enumerate(at):
                rows.append(
                    (
                        str(ids[j]),
                        float(win.last_t_s[idx[j]]),
                        float(d[k]),
                        float(ll[k, 0] - ll[k, 1]),
                    )
                )
        update(slots, r, street_s, ago_s)

    tracker._epoch_devices = on_epoch  # type: ignore[method-assign]
    tracker._update = on_update  # type: ignore[method-assign]
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    locate(store, log.batch, tracker, seed, EngineParams())
    return rows


def _p_inside_series(sim_dir: Path) -> dict[str, np.ndarray]:
    fixes = kept_fixes(sim_dir)
    series: dict[str, list[tuple[float, float]]] = {}
    for t in sorted(fixes):
        f = fixes[t]
        if f.p_inside is None:
            continue
        for i, d in enumerate(f.device_id.tolist()):
            series.setdefault(d, []).append((t, float(f.p_inside[i])))
    return {d: np.array(s) for d, s in series.items()}


def day(store: Path, sim_dir: Path, seed: int, near_m: float) -> dict[str, list[Any]]:
    """One kept day's walk-ins (ratio rows and p_inside log-odds) and calibration fixes."""
    layout = load_layout(store)
    depth = EntranceDepth(layout)
    truth = load_truth(sim_dir)
    series = _p_inside_series(sim_dir)
    by_device: dict[str, list[tuple[float, float, float]]] = {}
    for device, t, d, llr in evidence(store, sim_dir, seed):
        by_device.setdefault(device, []).append((t, d, llr))
    v = truth.visits
    walk_ins: list[Any] = []
    kind: dict[str, str] = {}
    crossings: dict[str, list[tuple[float, float]]] = {}
    for i in range(len(v)):
        device = str(v.device_id[i])
        kind.setdefault(device, str(truth.visit_kind[i]))
        crossings.setdefault(device, []).append((float(v.start_s[i]), float(v.end_s[i])))
        if truth.visit_kind[i] != "shopper" or not np.isfinite(v.start_s[i]):
            continue
        t0 = float(v.start_s[i])
        s = series.get(device)
        if s is None or s[0, 0] > t0 - 1.0:
            continue  # not heard in the street before the crossing
        r = np.array(by_device.get(device, []), dtype=np.float64).reshape(-1, 3)
        r = r[(r[:, 0] >= t0 - BEFORE_S) & (r[:, 0] <= t0 + AFTER_S)]
        walk_ins.append((t0, r, s))
    calib: list[tuple[float, bool, str]] = []
    for device, s in series.items():
        tt, xy = _path(truth, device)
        if not len(tt):
            continue
        s = s[(s[:, 0] >= tt[0]) & (s[:, 0] <= tt[-1])]
        pts = np.column_stack([np.interp(s[:, 0], tt, xy[:, 0]), np.interp(s[:, 0], tt, xy[:, 1])])
        d = depth(pts)
        phase = np.full(len(s), "", dtype=object)
        for a, b in crossings.get(device, []):
            if np.isfinite(a):
                phase[(s[:, 0] >= a - 20.0) & (s[:, 0] <= a + 10.0)] = "entry"
            if np.isfinite(b):
                phase[(s[:, 0] >= b - 10.0) & (s[:, 0] <= b + 20.0)] = "exit"
        for k in np.flatnonzero(np.abs(d) <= near_m):
            group = "passer-by" if kind.get(device) == "passerby" else f"shopper {phase[k]}"
            calib.append((float(s[k, 1]), bool(d[k] > 0), group))
    return {"walk_ins": walk_ins, "calib": calib}


def report(walk_ins: list[Any], calib: list[tuple[float, bool, str]], near_m: float) -> None:
    rows = np.concatenate([np.column_stack([r[:, 0] - t0, r[:, 1:]]) for t0, r, _ in walk_ins])
    print(f"  {len(walk_ins)} walk-ins; log-likelihood ratio true vs mirror per epoch:")
    for a, b in ((-3, -2), (-2, -1), (-1, 0), (0, 1), (1, 2), (2, 3), (3, 5)):
        m = (rows[:, 1] >= a) & (rows[:, 1] < b)
        if m.any():
            print(
                f"    true depth [{a},{b}) m: n {int(m.sum()):4d}  median {np.median(rows[m, 2]):5.2f}"
            )
    print("  by second after the crossing: median true depth, ratio, tracker's logit p_inside")
    for a in range(-2, 7):
        m = (rows[:, 0] >= a) & (rows[:, 0] < a + 1)
        logits = []
        for t0, _, s in walk_ins:
            k = np.flatnonzero((s[:, 0] - t0 >= a) & (s[:, 0] - t0 < a + 1))
            if len(k):
                p = float(np.clip(s[k[0], 1], 1e-5, 1 - 1e-5))
                logits.append(math.log(p / (1 - p)))
        if m.any() and logits:
            print(
                f"    [{a},{a + 1}) s: depth {np.median(rows[m, 1]):5.2f}  ratio "
                f"{np.median(rows[m, 2]):5.2f}  logit {np.median(logits):6.2f}"
            )
    for p in (0.5, 0.9, 0.975, 0.99):
        times = []
        for t0, r, _ in walk_ins:
            after = r[:, 0] >= t0
            hit = np.flatnonzero(np.cumsum(r[after, 2]) > math.log(p / (1 - p)))
            times.append(r[after, 0][hit[0]] - t0 if len(hit) else math.nan)
        a = np.array(times)
        ok = a[np.isfinite(a)]
        print(
            f"  ideal from 50/50 at the crossing reaches {p}: p50 {np.median(ok):.2f} "
            f"p90 {np.percentile(ok, 90):.2f} s, not within {AFTER_S:g} s: {int(np.isnan(a).sum())}"
        )
    p = np.array([c[0] for c in calib])
    inside = np.array([c[1] for c in calib])
    group = np.array([c[2] for c in calib])
    print(f"  p_inside calibration, true position within {near_m:g} m of the front:")
    for name in ("shopper entry", "shopper exit", "passer-by"):
        print(f"    {name}:")
        for a, b in zip(BINS[:-1], BINS[1:], strict=True):
            m = (group == name) & (p >= a) & (p < b)
            if m.any():
                print(
                    f"      [{a}, {min(b, 1.0)}): n {int(m.sum()):5d}  inside {inside[m].mean():.3f}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    kept_day_arguments(parser)
    parser.add_argument("--near", type=float, default=3.0, help="calibration band, m")
    args = parser.parse_args()
    for name in args.stores:
        store = args.planned_dir / f"{name}.toml"
        walk_ins: list[Any] = []
        calib: list[tuple[float, bool, str]] = []
        for seed in range(1, args.seeds + 1):
            out = day(
                store,
                kept_day(args.keep, store, seed, args.shoppers, args.minutes),
                seed,
                args.near,
            )
            walk_ins += out["walk_ins"]
            calib += out["calib"]
        print(f"{name}:")
        report(walk_ins, calib, args.near)
    return 0


if __name__ == "__main__":
    sys.exit(main())
