"""The store's floor plan on a matplotlib Axes: outline, entrance, zones, obstacles, beacons.

Every picture of the project (trajectories, heatmaps, flows, dashboards) draws this
first and paints its own data on top, so one store always looks the same.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import Polygon, Rectangle

from positioning.layout import Layout

#: Obstacle fill colours by kind (muted, so data drawn on top stays readable).
OBSTACLE_COLOURS = {
    "shelf": "#8d6e63",
    "wall": "#424242",
    "counter": "#607d8b",
    "pillar": "#212121",
}
#: Zone fills cycle through a qualitative palette (matplotlib tab10, light).
ZONE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
ENTRANCE_COLOUR = "#2e7d32"
BEACON_COLOUR = "#1565c0"
STREET_COLOUR = "#eeeeee"


def draw_floorplan(
    ax: Axes,
    layout: Layout,
    *,
    zones: bool = True,
    zone_labels: bool = True,
    beacons: bool = True,
    beacon_labels: bool = True,
    street_depth_m: float = 0.0,
    zone_alpha: float = 0.12,
) -> None:
    """Draw ``layout`` in metres on ``ax`` (equal aspect, origin bottom-left).

    ``street_depth_m`` > 0 extends the view below/above/beside the entrance side to show
    the street. Draws nothing else: titles, legends and data are the caller's.
    """
    w, h = layout.width_m, layout.height_m
    if zones:
        for i, zone in enumerate(layout.zones):
            colour = ZONE_COLOURS[i % len(ZONE_COLOURS)]
            ax.add_patch(
                Polygon(
                    zone.polygon,
                    closed=True,
                    facecolor=colour,
                    alpha=zone_alpha,
                    edgecolor=colour,
                    lw=0.8,
                    zorder=1,
                )
            )
            if zone_labels:
                cx, cy = zone.polygon.mean(axis=0)
                ax.text(
                    cx,
                    cy,
                    zone.name,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=colour,
                    alpha=0.9,
                    zorder=5,
                    fontweight="bold",
                )
    for obstacle in layout.obstacles:
        colour = OBSTACLE_COLOURS.get(obstacle.kind, "#555555")
        ax.add_patch(
            Polygon(
                obstacle.polygon, closed=True, facecolor=colour, edgecolor="black", lw=0.5, zorder=3
            )
        )
    ax.add_patch(Rectangle((0.0, 0.0), w, h, fill=False, edgecolor="black", lw=2.0, zorder=4))
    if layout.entrance is not None:
        (x0, y0), (x1, y1) = layout.entrance
        ax.plot([x0, x1], [y0, y1], color="white", lw=3.0, zorder=4.5, solid_capstyle="butt")
        ax.plot([x0, x1], [y0, y1], color=ENTRANCE_COLOUR, lw=2.0, ls=(0, (2, 1)), zorder=4.6)
        ax.annotate(
            "entrance",
            ((x0 + x1) / 2, (y0 + y1) / 2),
            xytext=(0, -10 if y0 < h / 2 else 10),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            color=ENTRANCE_COLOUR,
            zorder=6,
        )
    if beacons:
        xy = layout.beacon_xy
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            marker="^",
            s=30,
            color=BEACON_COLOUR,
            edgecolor="white",
            lw=0.5,
            zorder=7,
            label="beacons",
        )
        if beacon_labels:
            for b in layout.beacons:
                ax.annotate(
                    b.id,
                    (b.x_m, b.y_m),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=6,
                    color=BEACON_COLOUR,
                    zorder=7,
                )
    _frame(ax, layout, street_depth_m)


def _frame(ax: Axes, layout: Layout, street_depth_m: float) -> None:
    w, h = layout.width_m, layout.height_m
    margin = 0.05 * max(w, h)
    x0, y0, x1, y1 = -margin, -margin, w + margin, h + margin
    if street_depth_m > 0 and layout.entrance is not None:
        mx, my = layout.entrance.mean(axis=0)
        side = min((my, "bottom"), (h - my, "top"), (mx, "left"), (w - mx, "right"))[1]
        d = street_depth_m
        band = {
            "bottom": (0.0, -d, w, d),
            "top": (0.0, h, w, d),
            "left": (-d, 0.0, d, h),
            "right": (w, 0.0, d, h),
        }[side]
        ax.add_patch(
            Rectangle(
                band[:2], band[2], band[3], facecolor=STREET_COLOUR, edgecolor="none", zorder=0
            )
        )
        ax.text(
            band[0] + 0.01 * w,
            band[1] + 0.1 * band[3],
            "street",
            fontsize=7,
            color="#757575",
            zorder=1,
        )
        if side == "bottom":
            y0 = -d - margin
        elif side == "top":
            y1 = h + d + margin
        elif side == "left":
            x0 = -d - margin
        else:
            x1 = w + d + margin
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
