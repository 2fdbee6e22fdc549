"""Positioning accuracy against ground truth: error CDF and the confusion matrix of zones.

The truth track (>= 5 Hz) is linearly interpolated to every located sample's time, per
device (:func:`positioning.metrics.interpolate_truth`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes

from positioning.layout import Layout
from positioning.metrics import interpolate_truth

#: A located sample is compared only when truth exists within this time of it on both
#: sides (the device was being simulated then, not outside the truth's span).
MAX_TRUTH_GAP_S = 2.0
NO_ZONE = "(none)"


@dataclass(frozen=True, slots=True)
class Accuracy:
    error_m: npt.NDArray[np.float64]  # sorted errors of every matched located sample
    zones: tuple[str, ...]  # labels of the confusion matrix, NO_ZONE last
    confusion: npt.NDArray[np.int64]  # (Z+1, Z+1) rows: true zone, columns: located zone
    unmatched: int  # located samples with no truth around them

    def quantile(self, q: float) -> float | None:
        return float(np.quantile(self.error_m, q)) if len(self.error_m) else None

    @property
    def wrong_zone_rate(self) -> float | None:
        total = self.confusion.sum()
        return float(1.0 - np.trace(self.confusion) / total) if total else None

    def to_dict(self) -> dict[str, object]:
        return {
            "samples": len(self.error_m),
            "unmatched": self.unmatched,
            "median_m": self.quantile(0.5),
            "p90_m": self.quantile(0.9),
            "p95_m": self.quantile(0.95),
            "wrong_zone_rate": self.wrong_zone_rate,
            "zones": list(self.zones),
            "confusion": self.confusion.tolist(),
        }


def accuracy(located: pd.DataFrame, truth: pd.DataFrame, layout: Layout) -> Accuracy:
    """Compare located positions (t_s, device_id, x_m, y_m) with the truth track."""
    zones = tuple(z.name for z in layout.zones) + (NO_ZONE,)
    n = len(zones)
    if located.empty or truth.empty:
        return Accuracy(np.zeros(0), zones, np.zeros((n, n), dtype=np.int64), len(located))
    true_xy = interpolate_truth(
        located["t_s"].to_numpy(np.float64),
        located["device_id"].astype(str).to_numpy(str),
        truth["t_s"].to_numpy(np.float64),
        truth["device_id"].astype(str).to_numpy(str),
        truth[["x_m", "y_m"]].to_numpy(np.float64),
        max_gap_s=MAX_TRUTH_GAP_S,
    )
    ok = np.isfinite(true_xy[:, 0])
    est_xy = located[["x_m", "y_m"]].to_numpy()[ok]
    true_xy = true_xy[ok]
    err = np.sort(np.hypot(*(est_xy - true_xy).T))
    tz = layout.zone_of(true_xy)
    ez = layout.zone_of(est_xy)
    tz[tz < 0] = n - 1
    ez[ez < 0] = n - 1
    confusion = np.bincount(tz * n + ez, minlength=n * n).reshape(n, n).astype(np.int64)
    return Accuracy(err, zones, confusion, int((~ok).sum()))


def draw_cdf(ax: Axes, acc: Accuracy) -> None:
    e = acc.error_m
    if len(e):
        ax.plot(e, np.arange(1, len(e) + 1) / len(e), color="#3b6ea5", linewidth=2)
        for q, style in ((0.5, "--"), (0.9, ":")):
            v = acc.quantile(q) or 0.0
            ax.axvline(v, color="grey", linestyle=style, linewidth=1)
            ax.annotate(
                f"p{int(q * 100)} = {v:.2f} m",
                (v, q),
                xytext=(5, -12),
                textcoords="offset points",
                fontsize=9,
            )
    ax.set_xlabel("position error (m)")
    ax.set_ylabel("share of samples with error ≤ x")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max(1.0, 1.3 * (acc.quantile(0.995) or 0.0)))  # the far tail is a few samples
    ax.grid(alpha=0.3)
    ax.set_title(f"Positioning error CDF ({len(e)} samples)")


def draw_confusion(ax: Axes, acc: Accuracy) -> None:
    """Row-normalised: each true zone's samples, by the zone they were located in."""
    c = acc.confusion.astype(np.float64)
    rows = c.sum(axis=1, keepdims=True)
    share = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    image = ax.imshow(share, cmap="Greens", vmin=0, vmax=1)
    n = len(acc.zones)
    for i in range(n):
        for j in range(n):
            if share[i, j] >= 0.005:
                colour = "white" if share[i, j] > 0.6 else "black"
                ax.text(
                    j,
                    i,
                    f"{100 * share[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=colour,
                )
    ax.set_xticks(range(n), acc.zones, rotation=45, ha="right")
    ax.set_yticks(range(n), acc.zones)
    ax.set_xlabel("located zone")
    ax.set_ylabel("true zone")
    rate = acc.wrong_zone_rate
    ax.set_title(
        "Zone confusion, % of each true zone"
        + (f" (wrong zone {100 * rate:.1f} %)" if rate is not None else "")
    )
    figure = ax.get_figure()
    if figure is not None:
        figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02).set_label(
            "share of the true zone's samples"
        )
