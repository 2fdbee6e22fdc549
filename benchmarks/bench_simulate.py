"""Simulator throughput: a full store day generated and written, against a plain per-reading loop.

    python benchmarks/bench_simulate.py                      # 12 h, fashion store, 2,000 shoppers
    python benchmarks/bench_simulate.py --shoppers 200 --hours 2

Prints observations, seconds, observations/s and peak RSS for the vectorised,
chunked simulator (generate + write Parquet, end to end), and the same model
computed one reading at a time in plain Python on a small slice of the same day,
with the speed ratio. Target (issue 2): >= 500,000 obs/s and < 1.5 GB peak.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from positioning.layout import load_layout
from sim.params import CrowdParams, SimConfig
from sim.radio import RadioModel
from sim.run import build_world, simulate
from sim.stream import DayStream

REPO = Path(__file__).resolve().parent.parent
START_S = 1_795_942_800.0  # 2026-11-28T09:00:00Z


def cpu_s() -> float:
    """User + system CPU seconds of this process (all threads): comparable on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def naive_readings(
    radio: RadioModel, xy: np.ndarray, heading: np.ndarray, offset: np.ndarray, seed: int
) -> tuple[int, int]:
    """The same model, one (device report, beacon) reading at a time, written as CSV text."""
    rng = random.Random(seed)
    p, s = radio.params, radio.scan
    maps = radio.maps
    _, ny, nx = maps.loss_db.shape
    p0, p1 = radio.packet_probabilities()
    out = csv.writer(io.StringIO())
    heard = 0
    for m in range(len(xy)):
        x, y = float(xy[m, 0]), float(xy[m, 1])
        for b in range(len(radio.true_power_dbm)):
            bx, by, bz = (float(v) for v in radio.beacon_xyz[b])
            dx, dy, dz = bx - x, by - y, bz - p.device_height_m
            d = max(math.sqrt(dx * dx + dy * dy + dz * dz), p.min_distance_m)
            fx = min(max((x - maps.origin_m[0]) / maps.step_m, 0.0), nx - 1.000001)
            fy = min(max((y - maps.origin_m[1]) / maps.step_m, 0.0), ny - 1.000001)
            ix, iy = int(fx), int(fy)
            wx, wy = fx - ix, fy - iy
            g = maps.loss_db[b]
            loss = (g[iy, ix] * (1 - wx) + g[iy, ix + 1] * wx) * (1 - wy) + (
                g[iy + 1, ix] * (1 - wx) + g[iy + 1, ix + 1] * wx
            ) * wy
            cos = (dx * math.cos(heading[m]) + dy * math.sin(heading[m])) / (
                math.hypot(dx, dy) + 1e-9
            )
            mean = (
                radio.true_power_dbm[b]
                + offset[m]
                - 10 * p.path_loss_exponent * math.log10(d)
                - loss
                - 0.5 * p.body_loss_db * (1 - cos)
            )
            v = rng.random()
            got = (v >= p0[b]) + (v >= p0[b] + p1[b])
            r1 = mean + radio.fade_db[int(rng.random() * len(radio.fade_db))]
            r2 = mean + radio.fade_db[int(rng.random() * len(radio.fade_db))]
            ok1, ok2 = got >= 1 and r1 >= s.sensitivity_dbm, got >= 2 and r2 >= s.sensitivity_dbm
            if ok1 or ok2:
                heard += 1
                out.writerow((m + rng.random(), m, b, round(r1 if ok1 else r2)))
    return len(xy) * len(radio.true_power_dbm), heard


def baseline(store: Path, config: SimConfig, reports: int) -> tuple[int, float, float]:
    """Observations and seconds of the plain loop on the busiest minutes of the same day."""
    world = build_world(load_layout(store), config)
    stream = DayStream(
        world.population,
        world.radio,
        world.layout,
        config.start_s,
        config.duration_s,
        config.seed,
        config.truth_rate_hz,
    )
    mid = config.start_s + config.duration_s / 2
    agent, ws = stream._windows(mid, mid + 600.0)
    agent, ws = agent[:reports], ws[:reports]
    xy, heading = world.population.trajectories.sample(agent, ws)
    began, cpu0 = time.perf_counter(), cpu_s()
    _, heard = naive_readings(world.radio, xy, heading, stream.offset_db[agent], config.seed)
    return heard, time.perf_counter() - began, cpu_s() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=REPO / "examples" / "stores" / "fashion.toml")
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-reports",
        type=int,
        default=2000,
        help="device reports in the plain loop's slice",
    )
    args = parser.parse_args()
    config = SimConfig(args.shoppers, args.hours * 3600.0, START_S, args.seed)
    config = dataclasses.replace(config, crowd=CrowdParams(visible_share=1.0))
    with tempfile.TemporaryDirectory() as tmp:
        began, cpu0 = time.perf_counter(), cpu_s()
        result = simulate(args.store, config, Path(tmp) / "day")
        seconds, cpu = time.perf_counter() - began, cpu_s() - cpu0
        size_mb = (Path(tmp) / "day" / "observations.parquet").stat().st_size / 1e6
    rss = peak_rss_mb()
    load = os.getloadavg()[0]
    base_obs, base_s, base_cpu = baseline(args.store, config, args.baseline_reports)
    rate, base_rate = result.observations / seconds, base_obs / base_s
    print(
        f"store {args.store.name}, {args.shoppers} shoppers (+{result.agents - args.shoppers} passers-by and staff), "
        f"{args.hours:g} h, 1 Hz reports, every device visible, seed {args.seed}"
    )
    print(
        f"{'run':<44}{'observations':>14}{'seconds':>10}{'obs/s':>12}{'CPU s':>8}{'obs/CPU s':>12}{'peak RSS MB':>13}"
    )
    print(
        f"{'vectorised, chunked (generate + Parquet)':<44}{result.observations:>14,}{seconds:>10.1f}"
        f"{rate:>12,.0f}{cpu:>8.1f}{result.observations / cpu:>12,.0f}{rss:>13,.0f}"
    )
    print(
        f"{'plain per-reading loop (slice, CSV text)':<44}{base_obs:>14,}{base_s:>10.1f}"
        f"{base_rate:>12,.0f}{base_cpu:>8.1f}{base_obs / base_cpu:>12,.0f}"
    )
    print(
        f"speed-up {rate / base_rate:,.0f}x (per CPU second {result.observations / cpu / (base_obs / base_cpu):,.0f}x); "
        f"observations.parquet {size_mb:,.0f} MB; truth rows {result.truth_rows:,}; "
        f"load average at the end of the run {load:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
