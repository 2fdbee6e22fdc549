"""Benchmark: `instore report` on a full simulated day, against plain pandas baselines.

The day's positions are synthesised directly at scale (not run through simulate + locate,
which would take far longer than the report itself): visitors over a 12-hour day walking
with persistent velocity at 1 Hz, staff all day and passers-by in the street, written as an
`instore locate` directory (positions.csv + events.jsonl with store, zone and dwell events
derived from the tracks). At 1 Hz positions, each epoch comes from the several beacons a
device hears per second, so 10 million positions stand for well over 10 million
observations.

The report runs in a child process (`instore report`), timed end to end; the child reports
its own peak resident memory (ru_maxrss). With ``--keep DIR`` an existing run there is reused. The baselines compute only the heatmap's
seconds per cell: a Python loop over rows (on a slice, extrapolated) and a pandas
groupby-apply per device (on all rows).

    python benchmarks/bench_report.py [--rows 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy.signal import lfilter

from analytics.heatmap import occupancy
from analytics.inputs import read_positions_csv
from analytics.intervals import zone_runs
from positioning.events import (
    DWELL_END,
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
    PresenceEvent,
)
from positioning.layout import Layout, load_layout

REPO = Path(__file__).resolve().parent.parent
STORE = REPO / "examples" / "stores" / "fashion.toml"
DAY_START_S = 1_795_000_000.0 + 9 * 3600  # 09:00 UTC
DAY_S = 12 * 3600.0
CELL_M = 0.5
MAX_GAP_S = 5.0


def synthesise(layout: Layout, rows: int, seed: int) -> pd.DataFrame:
    """About ``rows`` positions: visitors (lognormal stay, median 20 min), staff, walking at 1 Hz."""
    rng = np.random.default_rng(seed)
    stays = np.clip(rng.lognormal(np.log(1200), 0.7, size=rows // 600), 60, 4 * 3600).astype(
        np.int64
    )
    stays = stays[: np.searchsorted(np.cumsum(stays), rows) + 1]
    staff = np.full(12, int(DAY_S) - 600)
    lengths = np.concatenate([stays, staff])
    n = len(lengths)
    peak = rng.choice([4.0, 9.0], size=n) * 3600 + rng.normal(
        0, 5400, size=n
    )  # lunch and evening peaks
    start = DAY_START_S + np.clip(peak, 0, DAY_S - lengths)
    start[-len(staff) :] = DAY_START_S + 300
    dev = np.repeat(np.arange(n, dtype=np.int32), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    offset = np.arange(len(dev)) - np.repeat(first, lengths)
    t = np.repeat(start, lengths) + offset
    # persistent velocity (AR(1) per axis, about 0.25 m/s: shoppers browse more than they walk), then reflected into the store
    v = lfilter([1.0], [1.0, -0.95], rng.normal(0, 0.08, size=(2, len(dev))), axis=1)
    walk = np.cumsum(v, axis=1)
    walk -= np.repeat(walk[:, first], lengths, axis=1)
    origin = np.repeat(
        rng.uniform([1.0, 1.0], [layout.width_m - 1, layout.height_m - 1], size=(n, 2)).T,
        lengths,
        axis=1,
    )
    pos = origin + walk
    for axis, size in ((0, layout.width_m), (1, layout.height_m)):
        pos[axis] = size - np.abs(size - np.mod(pos[axis], 2 * size))
    frame = pd.DataFrame(
        {
            "t": t,
            "device_id": pd.Categorical.from_codes(dev, [f"dev{i:05d}" for i in range(n)]),
            "x": pos[0],
            "y": pos[1],
        }
    )
    return frame.sort_values("t", kind="stable").reset_index(drop=True)


def events_for(frame: pd.DataFrame, layout: Layout) -> list[PresenceEvent]:
    """Store, zone and dwell events like the engine's: zone visits of >= 30 s, dwells >= 60 s."""
    pos = frame.rename(columns={"t": "t_s", "x": "x_m", "y": "y_m"})
    g = pos.groupby("device_id", observed=True)["t_s"]
    first, last = g.min(), g.max()
    out: list[PresenceEvent] = []
    for dev, t0, t1 in zip(first.index.astype(str), first.to_numpy(), last.to_numpy(), strict=True):
        out.append(PresenceEvent(STORE_ENTER, layout.name, dev, t0, t0 + 2, 15.0, 1.0))
        out.append(
            PresenceEvent(STORE_EXIT, layout.name, dev, t1, t1 + 5, 15.0, 1.0, None, t1 - t0)
        )
    zv = zone_runs(pos, layout, 10.0)
    zv = zv[zv["duration_s"] >= 30.0]
    for d, z, s, e, dur in zv.itertuples(index=False):
        out.append(PresenceEvent(ZONE_ENTER, layout.name, str(d), s, s + 2, 0.0, 0.0, z))
        out.append(PresenceEvent(ZONE_EXIT, layout.name, str(d), e, e + 2, 0.0, 0.0, z, dur))
        if dur >= 60.0:
            out.append(PresenceEvent(DWELL_START, layout.name, str(d), s + 30, s + 30, 0.0, 0.0, z))
            out.append(
                PresenceEvent(DWELL_END, layout.name, str(d), e, e + 2, 0.0, 0.0, z, dur - 30)
            )
    return out


def write_locate_dir(path: Path, frame: pd.DataFrame, events: list[PresenceEvent]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "t": frame["t"].to_numpy(),
            "device_id": frame["device_id"].astype(str).to_numpy(),
            "x": frame["x"].round(3).to_numpy(),
            "y": frame["y"].round(3).to_numpy(),
        }
    )
    pacsv.write_csv(table, path / "positions.csv")
    with open(path / "events.jsonl", "w", encoding="utf-8") as f:
        for e in sorted(events, key=lambda e: e.time_s):
            f.write(json.dumps(e.to_cloudevent()) + "\n")


#: Runs `instore report` and writes its own peak RSS: the child's ru_maxrss as seen by the
#: parent would include the parent's pages at fork time.
CHILD = (
    "import resource, sys; from pathlib import Path; from presence.cli import main; "
    "code = main(sys.argv[2:]); "
    "Path(sys.argv[1]).write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)); "
    "sys.exit(code)"
)


def baseline_loop(frame: pd.DataFrame, nx: int, ny: int) -> float:
    """A Python loop over rows with a dict of each device's last sample; returns the total
    time attributed (inside the store and outside, as the vectorised version counts it)."""
    seconds = np.zeros(nx * ny + 1)  # the last slot collects time outside the grid
    last: dict[str, tuple[float, int]] = {}
    for t, d, x, y in frame.itertuples(index=False):
        ix, iy = int(x // CELL_M), int(y // CELL_M)
        cell = iy * nx + ix if 0 <= ix < nx and 0 <= iy < ny else nx * ny
        prev = last.get(d)
        if prev is not None:
            seconds[prev[1]] += min(t - prev[0], MAX_GAP_S)
        last[d] = (t, cell)
    return float(seconds.sum())


def baseline_groupby(frame: pd.DataFrame, nx: int) -> float:
    """pandas: diff per device with groupby-apply, then a groupby-sum per cell."""
    f = frame.assign(
        cell=(frame["y"] // CELL_M).astype(int) * nx + (frame["x"] // CELL_M).astype(int)
    )
    w = f.groupby("device_id", observed=True, group_keys=False)["t"].apply(
        lambda s: (-s.diff(-1)).clip(upper=MAX_GAP_S).fillna(0.0)
    )
    return float(f.assign(w=w).groupby("cell")["w"].sum().sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="positions to synthesise (default 10 million)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--slice", type=int, default=200_000, help="rows given to the Python-loop baseline"
    )
    parser.add_argument(
        "--keep", type=Path, help="keep the synthetic run and the report in this directory"
    )
    args = parser.parse_args()
    layout = load_layout(STORE)
    work = args.keep or Path(tempfile.mkdtemp(prefix="instore-bench-report-"))
    t = time.perf_counter()
    if (work / "run" / "positions.csv").exists():
        frame = read_positions_csv(work / "run" / "positions.csv").rename(
            columns={"t_s": "t", "x_m": "x", "y_m": "y"}
        )
        print(f"reusing {len(frame):,} positions in {work / 'run'}", file=sys.stderr)
    else:
        frame = synthesise(layout, args.rows, args.seed)
        events = events_for(frame, layout)
        write_locate_dir(work / "run", frame, events)
        print(
            f"synthesised {len(frame):,} positions of {frame['device_id'].nunique():,} devices and {len(events):,} events in {time.perf_counter() - t:.1f} s -> {work / 'run'}",
            file=sys.stderr,
        )

    peak_file = work / "report-peak-mb.txt"
    t = time.perf_counter()
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(peak_file),
        "report",
        str(work / "run"),
        "-o",
        str(work / "report"),
        "--store",
        str(STORE),
    ]
    subprocess.run(command, check=True)
    report_s = time.perf_counter() - t
    peak_mb = float(peak_file.read_text())

    pos = frame.rename(columns={"t": "t_s", "x": "x_m", "y": "y_m"})
    t = time.perf_counter()
    occ = occupancy(pos, layout, CELL_M, MAX_GAP_S)
    ours_s = time.perf_counter() - t
    nx = occ.seconds.shape[1]
    part = frame.iloc[: args.slice]
    t = time.perf_counter()
    loop_total = baseline_loop(part, nx, occ.seconds.shape[0])
    loop_s = (time.perf_counter() - t) * len(frame) / len(part)
    t = time.perf_counter()
    groupby_total = baseline_groupby(frame, nx)
    groupby_s = time.perf_counter() - t
    ours_part = occupancy(
        part.rename(columns={"t": "t_s", "x": "x_m", "y": "y_m"}), layout, CELL_M, MAX_GAP_S
    )
    assert abs(ours_part.seconds.sum() + ours_part.outside_s - loop_total) < 1e-6 * max(
        1.0, loop_total
    )
    assert abs(occ.seconds.sum() + occ.outside_s - groupby_total) < 1e-6 * groupby_total

    rows = len(frame)
    print(f"\nreport of a full day: {rows:,} positions, fashion store, 1 Hz\n")
    print(f"| {'what':<52} | {'seconds':>8} | {'rows/s':>12} |")
    print(f"| {'-' * 52} | {'-' * 8}:| {'-' * 12}:|")
    print(
        f"| {'instore report, end to end (load, 3 figures, zones, page)':<52} | {report_s:8.1f} | {rows / report_s:12,.0f} |"
    )
    print(
        f"| {'heatmap binning, vectorised (analytics.heatmap)':<52} | {ours_s:8.2f} | {rows / ours_s:12,.0f} |"
    )
    print(
        f"| {'heatmap binning, pandas groupby-apply (baseline)':<52} | {groupby_s:8.2f} | {rows / groupby_s:12,.0f} |"
    )
    print(
        f"| {f'heatmap binning, Python loop ({len(part):,} rows, scaled)':<52} | {loop_s:8.1f} | {rows / loop_s:12,.0f} |"
    )
    print(
        f"\npeak memory of the report process: {peak_mb:,.0f} MB (target < 2048 MB); target time <= 60 s: {'met' if report_s <= 60 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
