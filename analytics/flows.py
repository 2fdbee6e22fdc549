"""Zone-to-zone flows: how often shoppers go from one zone straight to another.

A transition is two consecutive zone visits of one device (ordered by start) in different
zones, the second starting within ``max_gap_s`` of the first one's end (a longer gap is
another trip, e.g. a later visit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes

from analytics.heatmap import distinct_per_cell
from analytics.privacy import suppressed_mask
from positioning.layout import Layout

#: Longest walk between two zones that still counts as a transition: crossing the largest
#: reference store (60 x 40 m) at a slow 0.5 m/s takes about 3 minutes.
DEFAULT_MAX_GAP_S = 300.0


@dataclass(frozen=True, slots=True)
class Flows:
    zones: tuple[str, ...]
    counts: npt.NDArray[np.int64]  # (Z, Z) transitions from row zone to column zone
    devices: npt.NDArray[np.int64]  # (Z, Z) distinct devices making each transition
    suppressed: npt.NDArray[np.bool_]  # (Z, Z) cells from 1..k-1 devices, withheld

    def shown(self) -> npt.NDArray[np.float64]:
        out = self.counts.astype(np.float64)
        out[self.suppressed] = np.nan
        return out

    def to_dict(self) -> dict[str, object]:
        m = self.shown()
        return {
            "zones": list(self.zones),
            "transitions": [[None if np.isnan(v) else int(v) for v in row] for row in m],
        }


def transitions(
    zone_visits: pd.DataFrame, zones: tuple[str, ...], max_gap_s: float = DEFAULT_MAX_GAP_S
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """(from zone index, to zone index, device code) of every transition, vectorised."""
    index = {z: i for i, z in enumerate(zones)}
    zi = zone_visits["zone"].map(index)
    zv = zone_visits[zi.notna()]
    zi = zi[zi.notna()].to_numpy(dtype=np.intp)
    dev = pd.Categorical(zv["device_id"].astype(str)).codes.astype(np.int64)
    start = zv["start_s"].to_numpy()
    end = zv["end_s"].to_numpy()
    order = np.lexsort((start, dev))
    dev, zi, start, end = dev[order], zi[order], start[order], end[order]
    ok = (dev[1:] == dev[:-1]) & (zi[1:] != zi[:-1]) & (start[1:] - end[:-1] <= max_gap_s)
    return zi[:-1][ok], zi[1:][ok], dev[1:][ok]


def flows(
    zone_visits: pd.DataFrame, layout: Layout, k: int = 1, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> Flows:
    zones = tuple(z.name for z in layout.zones)
    n = len(zones)
    a, b, dev = transitions(zone_visits, zones, max_gap_s)
    counts = np.bincount(a * n + b, minlength=n * n).reshape(n, n).astype(np.int64)
    n_dev = int(dev.max()) + 1 if len(dev) else 1
    devices = distinct_per_cell(a * n + b, dev, n * n, n_dev).reshape(n, n)
    return Flows(zones, counts, devices, suppressed_mask(devices, k))


def draw_matrix(ax: Axes, f: Flows) -> None:
    m = f.shown()
    image = ax.imshow(np.nan_to_num(m), cmap="Blues")
    n = len(f.zones)
    for i in range(n):
        for j in range(n):
            text = "s" if np.isnan(m[i, j]) else (str(int(m[i, j])) if m[i, j] else "")
            colour = "white" if not np.isnan(m[i, j]) and m[i, j] > np.nanmax(m) * 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(n), f.zones, rotation=45, ha="right")
    ax.set_yticks(range(n), f.zones)
    ax.set_xlabel("to zone")
    ax.set_ylabel("from zone")
    ax.set_title("Zone-to-zone transitions (s = suppressed)")
    figure = ax.get_figure()
    if figure is not None:
        figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02).set_label("transitions")
