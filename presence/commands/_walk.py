"""Walk calibration for ``instore calibrate --walk``: reading recordings, reporting the fit.

A walk CSV has one row per reading taken at a known point: columns ``x``, ``y``
(metres), ``beacon_id``, ``rssi`` (dBm); other columns are ignored. Unusable rows are
skipped and counted by reason, never fatal.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from positioning.calibration import WalkFit
from positioning.layout import Layout
from positioning.pathloss import MIN_DISTANCE_M, rssi_at_distance
from presence.errors import UsageError

WalkRows = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64], dict[str, int]
]


def read_walk(path: Path, layout: Layout) -> WalkRows:
    """Rows (x, y, beacon index, rssi) of a walk CSV, and counts of rows skipped by reason."""
    index = layout.beacon_index
    xy: list[tuple[float, float]] = []
    bi: list[int] = []
    rssi: list[float] = []
    skipped: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"x", "y", "beacon_id", "rssi"} - set(reader.fieldnames or ())
            if missing:
                raise UsageError(f"{path}: missing columns {', '.join(sorted(missing))}")
            for row in reader:
                reason = _walk_row(row, index, xy, bi, rssi)
                if reason:
                    skipped[reason] = skipped.get(reason, 0) + 1
    except OSError as e:
        raise UsageError(f"{path}: cannot read the walk recordings: {e.strerror or e}") from e
    return np.array(xy).reshape(-1, 2), np.array(bi, dtype=np.int64), np.array(rssi), skipped


def _walk_row(
    row: dict[str, Any],
    index: dict[str, int],
    xy: list[tuple[float, float]],
    bi: list[int],
    rssi: list[float],
) -> str | None:
    beacon = (row.get("beacon_id") or "").strip()
    if beacon not in index:
        return "unknown_beacon"
    try:
        x, y, r = float(row["x"]), float(row["y"]), float(row["rssi"])
    except (TypeError, ValueError):
        return "not_a_number"
    if not (np.isfinite([x, y, r]).all() and -127 <= r < 0):
        return "rssi_out_of_range"
    xy.append((x, y))
    bi.append(index[beacon])
    rssi.append(r)
    return None


def walk_json(fit: WalkFit, skipped: dict[str, int]) -> dict[str, Any]:
    return {
        "path_loss_exponent": round(fit.exponent, 3),
        "exponent_stderr": round(fit.exponent_stderr, 3),
        "exponent_clipped": fit.exponent_clipped,
        "residual_sigma_db": round(fit.residual_sigma_db, 2),
        "rms_db": round(fit.rms_db, 2),
        "rows": fit.n_rows,
        "skipped": skipped,
        "beacons": [
            {
                "id": b.beacon_id,
                "rows": b.n_rows,
                "offset_db": round(b.offset_db, 2),
                "power_1m_dbm": round(b.power_1m_dbm, 2),
                "rms_db": None if not b.n_rows else round(b.rms_db, 2),
                "outliers": b.outliers,
            }
            for b in fit.beacons
        ],
    }


def print_walk(fit: WalkFit, skipped: dict[str, int], layout: Layout) -> None:
    t = Table(title=f"walk calibration of {layout.name}: {fit.n_rows} rows")
    for col in (
        "beacon",
        "rows",
        "declared",
        "fitted 1 m",
        "offset dB",
        "rms dB",
        "median |r|",
        "outliers",
    ):
        t.add_column(col, justify="left" if col == "beacon" else "right")
    for b, declared in zip(fit.beacons, layout.tx_power_dbm, strict=True):
        bad = b.n_rows and b.rms_db > 2 * fit.residual_sigma_db
        t.add_row(
            f"[red]{b.beacon_id}[/red]" if bad else b.beacon_id,
            str(b.n_rows),
            f"{declared:g}",
            f"{b.power_1m_dbm:.1f}",
            f"{b.offset_db:+.1f}",
            "-" if not b.n_rows else f"{b.rms_db:.1f}",
            "-" if not b.n_rows else f"{b.median_abs_db:.1f}",
            str(b.outliers),
        )
    console = Console()
    console.print(t)
    clipped = " (clipped to the plausible range)" if fit.exponent_clipped else ""
    console.print(
        f"path-loss exponent {fit.exponent:.2f} ± {fit.exponent_stderr:.2f}{clipped}; "
        f"residual sigma {fit.residual_sigma_db:.1f} dB (robust), rms {fit.rms_db:.1f} dB"
    )
    if skipped:
        console.print("skipped rows: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))


def plot_walk(
    path: Path,
    fit: WalkFit,
    layout: Layout,
    xy: npt.NDArray[np.float64],
    bi: npt.NDArray[np.int64],
    rssi: npt.NDArray[np.float64],
) -> None:
    """RSSI against distance per beacon with the fitted curve, and the residual histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.maximum(np.linalg.norm(xy - layout.beacon_xy[bi], axis=1), MIN_DISTANCE_M)
    powers = np.array([b.power_1m_dbm for b in fit.beacons])
    residual = rssi - rssi_at_distance(d, powers[bi], fit.exponent)
    fig, (ax, hist) = plt.subplots(1, 2, figsize=(12, 5), width_ratios=[2, 1])
    grid = np.geomspace(MIN_DISTANCE_M, max(float(d.max()), 1.0), 100)
    for k, b in enumerate(fit.beacons):
        mine = bi == k
        if not mine.any():
            continue
        dots = ax.scatter(d[mine], rssi[mine], s=6, alpha=0.4, label=b.beacon_id)
        ax.plot(
            grid,
            rssi_at_distance(grid, b.power_1m_dbm, fit.exponent),
            color=dots.get_facecolor()[0],
        )
    ax.set_xscale("log")
    ax.set(xlabel="distance to beacon (m, log scale)", ylabel="RSSI (dBm)")
    ax.set_title(
        f"{layout.name}: path-loss exponent {fit.exponent:.2f}, fitted 1 m power per beacon"
    )
    ax.legend(fontsize="small", ncols=2)
    hist.hist(residual, bins=40, color="0.4")
    hist.axvline(0, color="k", lw=0.8)
    hist.set(xlabel="residual (dB)", ylabel="readings")
    hist.set_title(f"robust sigma {fit.residual_sigma_db:.1f} dB")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
