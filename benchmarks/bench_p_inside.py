"""How the tracker's ``p_inside`` behaves against the simulator's truth.

    python benchmarks/bench_p_inside.py [--scenario fashion]

Runs the tracker the way the engine does (observe one second of rows, estimate) on an
accuracy scenario (benchmarks/accuracy.py) and prints: calibration (share of fixes
truly inside per band of ``p_inside``), for shoppers walking in the seconds from the
true door crossing until ``p_inside`` first exceeds 0.9, the store-enter threshold
(``DEFAULT_ENTER_P``, 0.975) and 0.99, and for passers-by the largest ``p_inside`` they
ever get.

Then what the radio itself says at the door: for each second around a shopper's true
door crossing, the evidence of one epoch's readings for "inside" over "in the street",
the best log-likelihood over the walkable cells inside minus the best over the street
cells (the tracker's own radio model, heading unknown). It bounds how fast any filter
on this model can be sure: ``p_inside`` 0.975 from an even start needs log-odds of 3.7.
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

from beacons.observation import ObservationBatch  # noqa: E402
from positioning.layout import Layout, load_layout  # noqa: E402
from positioning.tracker.filter import ParticleTracker  # noqa: E402
from positioning.tracker.radiomap import UNKNOWN_HEADING  # noqa: E402
from positioning.visits.store import DEFAULT_ENTER_P  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402

BANDS = [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0 + 1e-9]


class DoorEvidence(ParticleTracker):
    """The tracker, also noting each watched device's inside-over-street evidence per epoch.
    It reads the tracker's internals (``_update``'s readings): a measuring device."""

    def __init__(self, layout: Layout, seed: int, watch: set[str]) -> None:
        super().__init__(layout, seed=seed)
        self.watch = watch
        self.noted: list[tuple[str, float]] = []
        self._street = self.front.outside(self._candidates[None])[0]

    def _update(self, slots, r, street_s, ago_s):  # type: ignore[no-untyped-def]
        ids = self._devices.ids(self._state.code[slots])
        for i in np.flatnonzero(np.isin(ids, list(self.watch))):
            cand = self._candidates[None]
            heading = np.full(cand.shape[:2], UNKNOWN_HEADING, np.uint8)
            ll = self.radio.loglik(cand, r.take(np.array([i])), heading)[0]
            self.noted.append(
                (str(ids[i]), float(ll[~self._street].max() - ll[self._street].max()))
            )
        super()._update(slots, r, street_s, ago_s)


def track(
    layout: Layout, batch: ObservationBatch, seed: int, crossing: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fixes (t, dev, p) and door evidence (t, dev, nats) of devices within 3 s before to
    12 s after their first door crossing (``crossing``: device -> time)."""
    loc = DoorEvidence(layout, seed, set())
    parts, evidence = [], []
    for t_s, rows in epochs(batch):
        loc.watch = {d for d, t in crossing.items() if -3 <= t_s - t <= 12}
        loc.observe(rows)
        fix = loc.estimate(t_s)
        assert fix.p_inside is not None
        parts.append(pd.DataFrame({"t": t_s, "dev": fix.device_id, "p": fix.p_inside}))
        evidence += [(t_s, d, nats) for d, nats in loc.noted]
        loc.noted.clear()
    return pd.concat(parts, ignore_index=True), pd.DataFrame(evidence, columns=["t", "dev", "nats"])


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
        log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
        truth = pd.read_parquet(sim_dir / "truth.parquet", columns=["t", "device_id", "x", "y"])
        visits = pd.read_parquet(sim_dir / "visits.parquet")
    visible = visits[visits["visible"].astype(bool)]
    shoppers = visible[(visible["kind"] == "shopper") & visible["enter_t"].notna()]
    crossing = shoppers.groupby("device_id")["enter_t"].first().to_dict()
    df, evidence = track(layout, log.batch, scenario.seed, crossing)
    df = truly_inside(df, truth, layout)
    bands = pd.cut(df["p"], BANDS, right=False)
    print("p_inside band -> share of fixes truly inside (fixes)")
    print(df.groupby(bands, observed=True)["inside"].agg(["mean", "count"]).round(3).to_string())
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
    print(door_table(evidence, df, crossing))
    return 0


def door_table(evidence: pd.DataFrame, fixes: pd.DataFrame, crossing: dict[str, float]) -> str:
    """Per whole second since the true door crossing: evidence and the tracker's p_inside."""
    ev = evidence.merge(fixes[["t", "dev", "p"]], on=["t", "dev"], how="left")
    ev["since"] = np.floor(ev["t"] - ev["dev"].map(crossing))
    ev = ev[(ev["since"] >= -3) & (ev["since"] < 12)]
    table = ev.groupby("since").agg(
        epochs=("nats", "size"),
        evidence_median_nats=("nats", "median"),
        share_favouring_inside=("nats", lambda x: (x > 0).mean()),
        p_inside_median=("p", "median"),
    )
    return (
        "door evidence, inside over street, one epoch's readings (nats), by second since the "
        "true door crossing:\n" + table.round(2).to_string()
    )


if __name__ == "__main__":
    sys.exit(main())
