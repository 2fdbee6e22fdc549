"""Dwell heatmap: time-weighted occupancy in seconds per square metre, over the floor plan.

Each position sample stands for the time until the same device's next sample, capped at
``max_gap_s`` (a longer silence means the device was not heard, so that time is not
attributed anywhere). The samples are binned on a regular grid with one weighted
``np.bincount``; no Python loop runs per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import ndimage

from analytics.privacy import suppressed_mask
from positioning.layout import Layout

#: Heatmap cell size: half a metre resolves an aisle (about 1-2 m) in 2-4 cells while the
#: positioning error (1-3 m for BLE) is still larger than a cell.
DEFAULT_CELL_M = 0.5
#: Longest time one sample stands for. Positions come at >= 1 Hz while a device is heard
#: (ARCHITECTURE 3.4); a gap longer than a few missed epochs means it was not heard.
DEFAULT_MAX_GAP_S = 5.0
#: Gaussian smoothing radius (1 sigma): of the order of BLE positioning error, so the map
#: does not show structure finer than the positions can resolve.
DEFAULT_SMOOTH_M = 0.75


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Per-cell time and distinct visitors. Arrays are (ny, nx), row iy covers y in
    [iy*cell_m, (iy+1)*cell_m)."""

    seconds: npt.NDArray[np.float64]  # total device-seconds spent in the cell
    visitors: npt.NDArray[np.int64]  # distinct devices with a sample in the cell
    cell_m: float
    width_m: float
    height_m: float
    outside_s: float  # time of samples outside the outline (street) or not judged in the store

    @property
    def seconds_per_m2(self) -> npt.NDArray[np.float64]:
        return self.seconds / (self.cell_m * self.cell_m)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        ny, nx = self.seconds.shape
        return (0.0, nx * self.cell_m, 0.0, ny * self.cell_m)


def sample_weights_s(
    t_s: npt.NDArray[np.float64], codes: npt.NDArray[np.integer], max_gap_s: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """(order, weights): the order that sorts samples by (device, time), and each sorted
    sample's weight = time to the device's next sample, capped at ``max_gap_s``; the last
    sample of a device weighs 0 (nothing says how long it stayed)."""
    if len(t_s) > 1 and bool((np.diff(t_s) >= 0).all()):
        # stable keeps time order within a device; numpy radix-sorts 16-bit keys in O(n)
        key = (
            codes.astype(np.uint16)
            if len(codes) and codes.min() >= 0 and codes.max() < 65536
            else codes
        )
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((t_s, codes))
    t = t_s[order]
    c = codes[order]
    w = np.zeros(len(t), dtype=np.float64)
    if len(t) > 1:
        dt = np.diff(t)
        same = c[1:] == c[:-1]
        w[:-1] = np.where(same, np.minimum(dt, max_gap_s), 0.0)
    return order, w


#: Largest cells x devices presence bitmap (bytes) before falling back to sorting pairs.
BITMAP_MAX_BYTES = 256 * 1024 * 1024


def distinct_per_cell(
    cell: npt.NDArray[np.integer],
    device: npt.NDArray[np.integer],
    n_cells: int,
    n_devices: int,
    bitmap_max_bytes: int = BITMAP_MAX_BYTES,
) -> npt.NDArray[np.int64]:
    """(n_cells,) how many distinct devices have at least one sample in each cell. A
    cells x devices bitmap is O(n); for very many of both, sorted unique pairs instead."""
    if n_cells * n_devices <= bitmap_max_bytes:
        seen = np.zeros((n_cells, n_devices), dtype=bool)
        seen[cell, device] = True
        return np.asarray(seen.sum(axis=1), dtype=np.int64)
    pairs = np.sort(cell.astype(np.int64) * n_devices + device)
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:] != pairs[:-1]
    return np.bincount(pairs[first] // n_devices, minlength=n_cells).astype(np.int64)


def occupancy(
    positions: pd.DataFrame,
    layout: Layout,
    cell_m: float = DEFAULT_CELL_M,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> Occupancy:
    """Bin a positions frame (t_s, device_id, x_m, y_m) into seconds and visitors per cell.

    With an ``in_store`` column (locate output), only samples the engine judged inside the
    store count: a passer-by located a metre inside the shop front is not a visitor."""
    nx = max(1, int(np.ceil(layout.width_m / cell_m - 1e-9)))
    ny = max(1, int(np.ceil(layout.height_m / cell_m - 1e-9)))
    if positions.empty:
        zeros = np.zeros((ny, nx))
        return Occupancy(
            zeros, zeros.astype(np.int64), cell_m, layout.width_m, layout.height_m, 0.0
        )
    codes = positions["device_id"].cat.codes.to_numpy()
    order, w = sample_weights_s(positions["t_s"].to_numpy(), codes, max_gap_s)
    x = positions["x_m"].to_numpy()[order]
    y = positions["y_m"].to_numpy()[order]
    ix = np.floor(x / cell_m).astype(np.int64)
    iy = np.floor(y / cell_m).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    if "in_store" in positions.columns:
        inside &= positions["in_store"].to_numpy()[order]
    flat = iy[inside] * nx + ix[inside]
    seconds = np.bincount(flat, weights=w[inside], minlength=nx * ny)
    n_dev = max(1, len(positions["device_id"].cat.categories))
    visitors = distinct_per_cell(flat, codes[order][inside], nx * ny, n_dev)
    return Occupancy(
        seconds=seconds.reshape(ny, nx).astype(np.float64),
        visitors=visitors.reshape(ny, nx).astype(np.int64),
        cell_m=cell_m,
        width_m=layout.width_m,
        height_m=layout.height_m,
        outside_s=float(w[~inside].sum()),
    )


def smoothed_density(
    occ: Occupancy, smooth_m: float = DEFAULT_SMOOTH_M, k: int = 1
) -> npt.NDArray[np.float64]:
    """Seconds per m^2, Gaussian-smoothed; cells seen by 1..k-1 distinct visitors are removed
    *before* smoothing (so nothing of them leaks into neighbours) and NaN after."""
    mask = suppressed_mask(occ.visitors, k)
    raw = np.where(mask, 0.0, occ.seconds_per_m2)
    sigma = smooth_m / occ.cell_m
    # reflect at the outline: time near a wall stays in the store instead of fading out
    out = ndimage.gaussian_filter(raw, sigma=sigma, mode="reflect") if sigma > 0 else raw
    out = np.asarray(out, dtype=np.float64)
    out[mask] = np.nan
    return out
