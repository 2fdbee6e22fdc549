"""How the tracker's ``p_inside`` behaves against the simulator's truth.

    python benchmarks/bench_p_inside.py [--scenario fashion]

Runs the tracker the way the engine does (observe one second of rows, estimate) on an
accuracy scenario (benchmarks/accuracy.py) and prints: calibration (share of fixes
truly inside per band of ``p_inside``), for shoppers walking in the seconds from the
true door crossing until ``p_inside`` first exceeds 0.9, the store-enter threshold
(``DEFAULT_ENTER_P``, 0.975) and 0.99, and for passers-by the largest ``p_inside`` they
ever get.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import SCENARIOS, STORES, simulate_scenario  # noqa: E402
from bench_locate import epochs  # noqa: E402

from positioning.layout import Layout, load_layout  # noqa: E402
from positioning.store_presence import DEFAULT_ENTER_P  # noqa: E402
from positioning.tracker import ParticleTracker  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402

BANDS = [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0 + 1e-9]


def track(layout: Layout, sim_dir: Path, seed: int) -> pd.DataFrame:
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    loc = ParticleTracker(layout, seed=seed)
    parts = []
    for t_s, rows in epochs(log.batch):
        loc.observe(rows)
        fix = loc.estimate(t_s)
        assert fix.p_inside is not None
        parts.append(pd.DataFrame({"t": t_s, "dev": fix.device_id, "p": fix.p_inside}))
    return pd.concat(parts, ignore_index=True)


def truly_inside(df: pd.DataFrame, truth: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    inside = np.zeros(len(df), bool)
    known = np.zeros(len(df), bool)
    for dev, g in truth.groupby("device_id"):
        rows = np.flatnonzero((df["dev"] == dev).to_numpy())
        if not len(rows):
            continue
        tt, t = g["t"].to_numpy(), df["t"].to_numpy()[rows]
        xy = np.column_stack([np.interp(t, tt, g["x"]), np.interp(t, tt, g["y"])])
        inside[rows] = layout.contains(xy)
        known[rows] = (t >= tt[0]) & (t <= tt[-1])
    return df.assign(inside=inside)[known]


def summary(seconds: list[float]) -> str:
    a = np.asarray(seconds)
    ok = a[np.isfinite(a)]
    q = np.percentile(ok, [10, 50, 90]) if len(ok) else [np.nan] * 3
    return (
        f"p10 {q[0]:.1f} s, median {q[1]:.1f} s, p90 {q[2]:.1f} s, "
        f"max {(ok.max() if len(ok) else np.nan):.1f} s, never {int((~np.isfinite(a)).sum())} of {len(a)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="fashion", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    scenario = SCENARIOS[args.scenario]
    layout = load_layout(STORES / scenario.store)
    with tempfile.TemporaryDirectory() as tmp:
        sim_dir = simulate_scenario(scenario, Path(tmp))
        df = track(layout, sim_dir, scenario.seed)
        truth = pd.read_parquet(sim_dir / "truth.parquet", columns=["t", "device_id", "x", "y"])
        visits = pd.read_parquet(sim_dir / "visits.parquet")
    df = truly_inside(df, truth, layout)
    bands = pd.cut(df["p"], BANDS, right=False)
    print("p_inside band -> share of fixes truly inside (fixes)")
    print(df.groupby(bands, observed=True)["inside"].agg(["mean", "count"]).round(3).to_string())
    visible = visits[visits["visible"].astype(bool)]
    shoppers = visible[(visible["kind"] == "shopper") & visible["enter_t"].notna()]
    lat: dict[float, list[float]] = {0.9: [], DEFAULT_ENTER_P: [], 0.99: []}
    for dev, enter_t in zip(shoppers["device_id"], shoppers["enter_t"], strict=True):
        g = df[(df["dev"] == dev) & (df["t"] >= enter_t - 30.0)]
        if len(g):
            for thr, out in lat.items():
                hit = g["t"][g["p"] > thr]
                out.append(float(hit.iloc[0]) - enter_t if len(hit) else np.inf)
    for thr, out in lat.items():
        print(f"shoppers, true door crossing to p_inside > {thr}: {summary(out)}")
    passing = df[df["dev"].isin(visible["device_id"][visible["kind"] == "passerby"])]
    top = passing.groupby("dev")["p"].max()
    print(
        f"passers-by ({len(top)}): max p_inside median {top.median():.3f}, p90 "
        f"{top.quantile(0.9):.3f}, max {top.max():.3f}; above 0.9: {(top > 0.9).sum()}, "
        f"above {DEFAULT_ENTER_P}: {(top > DEFAULT_ENTER_P).sum()}, above 0.99: {(top > 0.99).sum()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
