"""A recorded small run of the default tracker, to prove that speed work leaves its output alone.

The input is a committed 4-minute simulated log of the fashion store (12 shoppers and the
passers-by of ``instore simulate --store examples/stores/fashion.toml --shoppers 12
--duration 4m --seed 5``: 27,448 rows, 39 devices, street and zones); the output is every
fix of the tracker (seed 0, default parameters) run the engine's way, one estimate a
second. ``test_tracker_golden.py`` reruns it and compares. After an intended change of the
tracker's behaviour, rewrite the recording and commit it:

    python tests/positioning/tracker_golden.py --write
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch
from positioning.layout import Layout, load_layout
from positioning.registry import make_locator

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "examples" / "stores" / "fashion.toml"
DATA = Path(__file__).resolve().parent / "data" / "tracker_golden.npz"
#: The output columns recorded per fix, all float64.
COLUMNS = ("t_s", "x_m", "y_m", "sigma_m", "p_inside", "p_zone", "spread_m", "n_beacons")


def golden_input(layout: Layout) -> ObservationBatch:
    """The recorded observation log (time-sorted)."""
    d = np.load(DATA)
    return ObservationBatch(
        d["in_t_s"],
        d["device_ids"][d["in_device"]],
        np.asarray(layout.beacon_ids)[d["in_beacon"]],
        d["in_rssi_dbm"].astype(np.float64),
    )


def run(layout: Layout, batch: ObservationBatch) -> tuple[npt.NDArray[np.str_], np.ndarray]:
    """Device ids (F,) and (F, len(COLUMNS)) outputs of every fix, one estimate a second."""
    loc = make_locator("tracker", layout, seed=0)
    t0 = np.floor(batch.t_s[0])
    ids, rows = [], []
    for end in np.arange(t0 + 1.0, batch.t_s[-1] + 1.0, 1.0):
        loc.observe(batch.take((batch.t_s > end - 1.0) & (batch.t_s <= end)))
        f = loc.estimate(float(end))
        if len(f) == 0:
            continue
        assert f.p_inside is not None and f.p_zone is not None and f.spread_m is not None
        ids.append(f.device_id)
        cols = (np.full(len(f), f.t_s), f.xy_m[:, 0], f.xy_m[:, 1], f.sigma_m, f.p_inside)
        cols += (f.p_zone, f.spread_m, f.n_beacons)
        rows.append(np.column_stack([np.asarray(c, np.float64) for c in cols]))
    return np.concatenate(ids), np.vstack(rows)


def write(sim_dir: Path | None) -> None:
    """Record the current tracker's output; with ``sim_dir``, first its log as the input."""
    layout = load_layout(STORE)
    if sim_dir is None:
        inputs = {k: v for k, v in np.load(DATA).items() if not k.startswith("out")}
    else:
        import pandas as pd

        obs = pd.read_parquet(sim_dir / "observations.parquet").sort_values("t", kind="stable")
        device_ids, device = np.unique(obs["device_id"].to_numpy(str), return_inverse=True)
        index = layout.beacon_index
        inputs = {
            "in_t_s": obs["t"].to_numpy(np.float64),
            "in_device": device.astype(np.uint16),
            "in_beacon": np.array([index[b] for b in obs["beacon_id"]], np.uint8),
            "in_rssi_dbm": obs["rssi"].to_numpy(np.float64).astype(np.int16),
            "device_ids": device_ids,
        }
        DATA.parent.mkdir(exist_ok=True)
        np.savez_compressed(DATA, **inputs)  # the input first: golden_input() reads it back
    ids, out = run(layout, golden_input(layout))
    np.savez_compressed(DATA, **inputs, out_device_id=ids, out=out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the recorded output")
    ap.add_argument("--sim", type=Path, help="with --write: a simulation directory, the new input")
    args = ap.parse_args()
    if args.write:
        write(args.sim)
        print(f"wrote {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
