"""The plan's pictures over the floor plan: position bound, zone confusion, the door, the proposal.

Each picture shows the layout as it stands (left) and with the recommended radios
(right) on the same colour scale, so a cell that turns lighter is a cell that improved.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from analytics.floorplan import draw_floorplan  # noqa: E402
from planning.assess import DECISION_NATS, Assessment  # noqa: E402
from planning.floor import DOOR_DEPTHS_M, Floor  # noqa: E402
from planning.mounting import Candidate  # noqa: E402
from positioning.layout import Layout  # noqa: E402

__all__ = ["MAP_NAMES", "draw_maps"]

MAP_NAMES = ("bound", "zones", "door", "layout")
ADDED_COLOUR = "#d81b60"
DPI = 110
STREET_DEPTH_M = 3.0


def draw_maps(
    layout: Layout,
    floor: Floor,
    before: Assessment,
    after: Assessment,
    added: list[Candidate],
    out_dir: Path,
    prefix: str = "plan",
) -> dict[str, Path]:
    """Writes ``{prefix}-{name}.png`` for each of MAP_NAMES; returns name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{prefix}-{name}.png" for name in MAP_NAMES}
    _bound(layout, floor, before, after, added, paths["bound"])
    _zones(layout, before, after, added, paths["zones"])
    _door(before, after, paths["door"])
    _layout(layout, added, paths["layout"])
    return paths


def _pair(layout: Layout) -> tuple[plt.Figure, tuple[Axes, Axes]]:
    aspect = layout.height_m / layout.width_m
    fig, axes = plt.subplots(1, 2, figsize=(12, 1.0 + 5.6 * aspect), constrained_layout=True)
    return fig, (axes[0], axes[1])


def _mark_added(ax: Axes, added: list[Candidate]) -> None:
    for i, c in enumerate(added, start=1):
        ax.scatter(
            [c.x_m], [c.y_m], marker="*", s=140, color=ADDED_COLOUR, edgecolor="white", zorder=9
        )
        ax.annotate(
            str(i),
            (c.x_m, c.y_m),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
            color=ADDED_COLOUR,
            zorder=9,
            fontweight="bold",
        )


def _bound(
    layout: Layout,
    floor: Floor,
    before: Assessment,
    after: Assessment,
    added: list[Candidate],
    path: Path,
) -> None:
    fig, axes = _pair(layout)
    top = float(np.quantile(before.bound_m, 0.98))
    norm = Normalize(0.0, max(top, 0.5))
    size = (floor.spacing_m * 72 / 1.0) ** 2 * 0.08
    for ax, a, title in (
        (axes[0], before, "as hung"),
        (axes[1], after, f"with {len(added)} added"),
    ):
        draw_floorplan(
            ax,
            layout,
            zone_labels=False,
            zone_alpha=0.0,
            beacon_labels=False,
            street_depth_m=STREET_DEPTH_M,
        )
        sc = ax.scatter(
            floor.points_xy[:, 0],
            floor.points_xy[:, 1],
            c=a.bound_m,
            cmap="magma_r",
            norm=norm,
            s=size,
            marker="s",
            lw=0,
            zorder=2,
        )
        ax.set_title(
            f"position error bound, {title}: median {a.bound_median_m:.1f} m, p90 {a.bound_p90_m:.1f} m",
            fontsize=9,
        )
        if a is after:
            _mark_added(ax, added)
    fig.colorbar(sc, ax=list(axes), label="Cramér-Rao bound (m): lower is better", shrink=0.8)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _zones(
    layout: Layout, before: Assessment, after: Assessment, added: list[Candidate], path: Path
) -> None:
    fig, axes = _pair(layout)
    cmap = plt.get_cmap("RdYlGn_r")
    norm = Normalize(0.0, 0.5)
    for ax, a, title in (
        (axes[0], before, "as hung"),
        (axes[1], after, f"with {len(added)} added"),
    ):
        draw_floorplan(ax, layout, zones=False, beacon_labels=False, street_depth_m=STREET_DEPTH_M)
        for zone in layout.zones:
            value = a.zone_confusion.get(zone.name, float("nan"))
            colour = cmap(norm(value)) if np.isfinite(value) else "#dddddd"
            ax.add_patch(
                Polygon(
                    zone.polygon,
                    closed=True,
                    facecolor=colour,
                    alpha=0.55,
                    edgecolor="black",
                    lw=0.6,
                    zorder=1,
                )
            )
            cx, cy = zone.polygon.mean(axis=0)
            ax.text(
                cx, cy, f"{zone.name}\n{value:.0%}", ha="center", va="center", fontsize=7, zorder=8
            )
        ax.set_title(
            f"chance a fix lands in the wrong zone, {title}: mean {a.mean_confusion:.0%}",
            fontsize=9,
        )
        if a is after:
            _mark_added(ax, added)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _door(before: Assessment, after: Assessment, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    for a, label, colour in (
        (before, "as hung", "#546e7a"),
        (after, "with added radios", ADDED_COLOUR),
    ):
        if a.door_rate_by_depth.size == 0:
            continue
        rate = np.median(a.door_rate_by_depth, axis=0)
        axes[0].plot(
            DOOR_DEPTHS_M,
            rate,
            color=colour,
            label=f"{label}: {a.door_rate_nats_s:.2f} nats/s at 1 m",
        )
        speed_step = DOOR_DEPTHS_M[1] - DOOR_DEPTHS_M[0]
        t = DOOR_DEPTHS_M / 1.1
        axes[1].plot(
            t,
            np.cumsum(rate * speed_step / 1.1),
            color=colour,
            label=f"{label}: decided after {a.enter_latency_s:.1f} s",
        )
    axes[0].set_xlabel("metres inside the door")
    axes[0].set_ylabel("evidence 'inside' vs the most alike street point (nats/s)")
    axes[0].set_title("door separability", fontsize=9)
    axes[1].axhline(DECISION_NATS, color="black", lw=0.8, ls="--")
    axes[1].text(0.1, DECISION_NATS * 1.05, "95 % sure: inside", fontsize=8)
    axes[1].set_xlabel("seconds since crossing the door, walking in at 1.1 m/s")
    axes[1].set_ylabel("evidence gathered (nats)")
    axes[1].set_title("enter latency from the radio alone", fontsize=9)
    axes[1].set_ylim(0, DECISION_NATS * 3)
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _layout(layout: Layout, added: list[Candidate], path: Path) -> None:
    aspect = layout.height_m / layout.width_m
    fig, ax = plt.subplots(figsize=(7, 1.0 + 6.2 * aspect), constrained_layout=True)
    draw_floorplan(ax, layout, street_depth_m=STREET_DEPTH_M)
    _mark_added(ax, added)
    ax.set_title(
        f"{layout.name}: {len(layout.beacons)} radios hung (triangles), {len(added)} proposed (stars)",
        fontsize=9,
    )
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
