"""Benchmark of the locators: throughput, memory and (against the simulator's truth) accuracy.

    python benchmarks/bench_locate.py [--store S] [--sim DIR] [--devices 5000]
    python benchmarks/bench_locate.py --sim DIR --scale-only    # the scale runs alone

Without ``--sim`` it simulates the store first (``instore simulate``, 30 shoppers,
20 min, seed 3). Every locator runs the same loop the engine runs: observe one
second of rows, estimate. The plain baseline is a per-snapshot
``scipy.optimize.least_squares`` fit (one solver call per device and second),
timed on a prefix of the snapshots. Throughput is observations per second of CPU
time of this process (``time.process_time``, BLAS limited to one thread), so a busy
shared machine does not distort it. The scale runs replay the recorded devices
under new ids until ``--busy-devices`` and ``--devices`` are tracked at the same
time, and report throughput and the peak traced allocation (numpy registers its
buffers with tracemalloc).
"""

# ruff: noqa: E402  (the thread limits below must be set before numpy is imported)
from __future__ import annotations

import os

# One core: no BLAS threads (must be set before numpy loads).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy.optimize import least_squares

from beacons.observation import ObservationBatch
from positioning.layout import Layout, load_layout
from positioning.locator import PositionFix
from positioning.pathloss import beacon_height_offsets_m, distance_m, rssi_at_distance
from positioning.registry import LOCATOR_NAMES, make_locator
from positioning.signal import DeviceCodes, aggregate, encode_batch
from sim.obslog import read_observation_log

REPO = Path(__file__).resolve().parent.parent
EPOCH_S = 1.0


def simulate(store: Path, out: Path, shoppers: int, duration: str, seed: int) -> None:
    cmd = [sys.executable, "-m", "presence.cli", "simulate", "--store", str(store)]
    cmd += ["--shoppers", str(shoppers), "--duration", duration, "--seed", str(seed)]
    subprocess.run([*cmd, "-o", str(out), "--quiet"], check=True)


def epochs(batch: ObservationBatch) -> list[tuple[float, ObservationBatch]]:
    """The engine's loop: rows of each second, and the estimate time closing it."""
    t0 = np.floor(batch.t_s[0])
    ends = np.arange(t0 + EPOCH_S, batch.t_s[-1] + EPOCH_S, EPOCH_S)
    cut = np.searchsorted(batch.t_s, ends, side="right")
    starts = np.r_[0, cut[:-1]]
    return [
        (float(e), batch.take(np.arange(a, b))) for e, a, b in zip(ends, starts, cut, strict=True)
    ]


def run_locator(
    name: str, layout: Layout, chunks: list[tuple[float, ObservationBatch]]
) -> tuple[list[PositionFix], float]:
    loc = make_locator(name, layout, seed=0)
    fixes = []
    start = time.process_time()
    for t_s, rows in chunks:
        loc.observe(rows)
        fixes.append(loc.estimate(t_s))
    return fixes, time.process_time() - start


def position_errors(fixes: list[PositionFix], truth: pd.DataFrame) -> np.ndarray:
    """Distance of every fix to the device's true position at the fix time (interpolated)."""
    t = np.concatenate([np.full(len(f), f.t_s) for f in fixes])
    dev = np.concatenate([f.device_id for f in fixes])
    xy = np.concatenate([f.xy_m for f in fixes])
    errs = np.full(len(t), np.nan)
    for d, g in truth.groupby("device_id", sort=False):
        m = dev == d
        if not m.any():
            continue
        tt = g["t"].to_numpy()
        inside = m & (t >= tt[0]) & (t <= tt[-1])
        tx = np.interp(t[inside], tt, g["x"].to_numpy())
        ty = np.interp(t[inside], tt, g["y"].to_numpy())
        errs[inside] = np.hypot(xy[inside, 0] - tx, xy[inside, 1] - ty)
    return errs[np.isfinite(errs)]


def least_squares_baseline(
    layout: Layout, chunks: list[tuple[float, ObservationBatch]], budget_s: float
) -> tuple[float, int]:
    """Per-snapshot scipy least_squares: (rows per second, rows done) within ``budget_s``."""
    beacon_xy, tx = layout.beacon_xy, layout.tx_power_dbm
    heights, n = beacon_height_offsets_m(layout), layout.path_loss_exponent
    codes = DeviceCodes()
    rows_done, start = 0, time.process_time()
    for _, rows in chunks:
        enc = encode_batch(rows, layout.beacon_index, codes)
        win = aggregate(enc.rows, len(beacon_xy))
        for r in win.rssi_dbm:
            heard = ~np.isnan(r)

            def resid(p: np.ndarray, r: np.ndarray = r, heard: np.ndarray = heard) -> np.ndarray:
                d = distance_m(p[None], beacon_xy[heard], heights[heard])[0]
                return r[heard] - rssi_at_distance(d, tx[heard], n)

            least_squares(
                resid, beacon_xy[heard].mean(axis=0), method="lm" if heard.sum() >= 2 else "trf"
            )
        rows_done += len(rows)
        if time.process_time() - start > budget_s:
            break
    return rows_done / (time.process_time() - start), rows_done


def replicated(batch: ObservationBatch, devices: int, span_s: float) -> ObservationBatch:
    """The first ``span_s`` of the log, its devices copied under new ids to reach ``devices``."""
    part = batch.take(batch.t_s < batch.t_s[0] + span_s)
    ids = np.unique(part.device_id)
    copies = max(1, int(np.ceil(devices / max(1, len(ids)))))
    parts = [
        ObservationBatch(
            part.t_s, np.char.add(part.device_id, f"~{k}"), part.beacon_id, part.rssi_dbm
        )
        for k in range(copies)
    ]
    merged = ObservationBatch(
        np.concatenate([p.t_s for p in parts]),
        np.concatenate([p.device_id for p in parts]),
        np.concatenate([p.beacon_id for p in parts]),
        np.concatenate([p.rssi_dbm for p in parts]),
    )
    return merged.sorted_by_time()


def measure_scale(
    layout: Layout, batch: ObservationBatch, devices: int, span_s: float
) -> tuple[int, float, float, int]:
    """Tracker on ``devices`` concurrent devices: (tracked, peak traced MB, obs/s, rows)."""
    big = replicated(batch, devices, span_s=span_s)
    chunks = epochs(big)
    tracemalloc.start()
    fixes, _ = run_locator("tracker", layout, chunks[:3])  # warm-up: tracemalloc slows numpy
    tracemalloc.stop()
    tracemalloc.start()
    fixes, _ = run_locator("tracker", layout, chunks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _, elapsed = run_locator("tracker", layout, chunks)  # timed without tracemalloc
    return max(len(f) for f in fixes), peak / 1e6, len(big) / elapsed, len(big)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, default=REPO / "examples/stores/fashion.toml")
    ap.add_argument("--sim", type=Path, help="a simulation directory (default: simulate one)")
    ap.add_argument("--devices", type=int, default=5000, help="concurrent devices for memory")
    ap.add_argument("--busy-devices", type=int, default=1000, help="a busy store's devices")
    ap.add_argument("--lsq-budget-s", type=float, default=10.0)
    ap.add_argument(
        "--scale-only",
        action="store_true",
        help="only the tracker at scale (no day table, no least_squares loop): for profiling",
    )
    args = ap.parse_args()
    console = Console()
    layout = load_layout(args.store)
    with tempfile.TemporaryDirectory() as tmp:
        sim_dir = args.sim or Path(tmp) / "sim"
        if args.sim is None:
            console.print(f"simulating {args.store.name} (30 shoppers, 20 min, seed 3)...")
            simulate(args.store, sim_dir, 30, "20m", 3)
        log = read_observation_log(sim_dir, layout.beacon_ids)
        truth = pd.read_parquet(sim_dir / "truth.parquet", columns=["t", "device_id", "x", "y"])
    batch = log.batch
    if args.scale_only:
        print_scale(console, layout, batch, args, None)
        return 0
    chunks = epochs(batch)
    table = Table(title=f"locate: {len(batch):,} observations, {layout.name}, 1 s epochs")
    for col in ("locator", "median m", "p90 m", "obs/s", "vs least_squares"):
        table.add_column(col, justify="right")
    lsq_rate, lsq_rows = least_squares_baseline(layout, chunks, args.lsq_budget_s)
    results: dict[str, tuple[float, float, float]] = {}
    for name in LOCATOR_NAMES:
        fixes, elapsed = run_locator(name, layout, chunks)
        errs = position_errors(fixes, truth)
        results[name] = (
            float(np.median(errs)),
            float(np.percentile(errs, 90)),
            len(batch) / elapsed,
        )
    for name, (med, p90, rate) in results.items():
        table.add_row(name, f"{med:.2f}", f"{p90:.2f}", f"{rate:,.0f}", f"{rate / lsq_rate:.0f}x")
    table.add_row("least_squares loop", "", "", f"{lsq_rate:,.0f}", f"1x ({lsq_rows:,} rows timed)")
    console.print(table)
    gain = 1.0 - results["tracker"][0] / results["centroid"][0]
    console.print(f"tracker median is {gain:.0%} below the weighted centroid's")
    print_scale(console, layout, batch, args, lsq_rate)
    return 0


def print_scale(
    console: Console,
    layout: Layout,
    batch: ObservationBatch,
    args: argparse.Namespace,
    lsq_rate: float | None,
) -> None:
    """The tracker at ``--busy-devices`` and ``--devices`` concurrent devices."""
    scale = Table(title="tracker at scale (recorded devices replayed under new ids)")
    for col in ("devices tracked", "observations", "obs/s", "vs least_squares", "peak MB"):
        scale.add_column(col, justify="right")
    for devices, span in ((args.busy_devices, 60.0), (args.devices, 30.0)):
        tracked, peak_mb, rate, rows = measure_scale(layout, batch, devices, span)
        scale.add_row(
            f"{tracked:,}",
            f"{rows:,}",
            f"{rate:,.0f}",
            "-" if lsq_rate is None else f"{rate / lsq_rate:.0f}x",
            f"{peak_mb:,.0f}",
        )
    console.print(scale)


if __name__ == "__main__":
    sys.exit(main())
