"""Pictures drawn over the floor plan: the dwell heatmap and the zone-to-zone flow arrows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from analytics.floorplan import draw_floorplan
from analytics.flows import Flows
from analytics.heatmap import Occupancy
from positioning.layout import Layout

#: Arrows drawn on the floor plan: the strongest flows only, or the picture is a hairball.
MAX_ARROWS = 15
#: Suppressed heatmap cells: a flat light grey, visibly "no figure" rather than "zero".
SUPPRESSED_RGBA = (0.55, 0.55, 0.55, 0.35)


def draw_heatmap(
    ax: Axes,
    layout: Layout,
    density: npt.NDArray[np.float64],
    occ: Occupancy,
    *,
    title: str = "Dwell heatmap",
) -> None:
    """The density over the floor plan with a labelled colour bar; suppressed cells grey."""
    draw_floorplan(ax, layout)
    shown = np.ma.masked_where(~np.isfinite(density) | (density <= 1e-9), density)
    image = ax.imshow(
        shown,
        origin="lower",
        extent=occ.extent,
        cmap="inferno_r",
        # square-root scale: a few hot spots (fitting rooms, tills) would otherwise wash
        # every aisle out to the colour of zero
        norm=PowerNorm(gamma=0.5, vmin=0.0),
        alpha=0.8,
        interpolation="bilinear",
        zorder=1.5,
    )
    hidden = ~np.isfinite(density)
    if hidden.any():
        grey = np.zeros((*hidden.shape, 4))
        grey[hidden] = SUPPRESSED_RGBA
        ax.imshow(grey, origin="lower", extent=occ.extent, interpolation="nearest", zorder=1.6)
    figure = ax.get_figure()
    if isinstance(figure, Figure):
        bar = figure.colorbar(image, ax=ax, fraction=0.035, pad=0.02)
        bar.set_label("time spent (s per m², smoothed)")
    ax.set_xlim(0, layout.width_m)
    ax.set_ylim(0, layout.height_m)
    ax.set_title(title)


def draw_flow_arrows(ax: Axes, layout: Layout, f: Flows) -> None:
    """The strongest flows as arrows between zone centroids, width by count."""
    draw_floorplan(ax, layout)
    centres = np.array([z.polygon.mean(axis=0) for z in layout.zones]).reshape(-1, 2)
    m = np.nan_to_num(f.shown())
    flat = np.argsort(m, axis=None)[::-1][:MAX_ARROWS]
    top = m.max() if m.size and m.max() > 0 else 1.0
    for idx in flat:
        i, j = divmod(int(idx), len(f.zones))
        if m[i, j] <= 0:
            break
        arrow = FancyArrowPatch(
            tuple(centres[i]),
            tuple(centres[j]),
            arrowstyle="-|>",
            mutation_scale=10 + 10 * m[i, j] / top,
            linewidth=0.8 + 5.0 * m[i, j] / top,
            color="#c0392b",
            alpha=0.75,
            connectionstyle="arc3,rad=0.2",
            zorder=5,
        )
        ax.add_patch(arrow)
    ax.set_xlim(0, layout.width_m)
    ax.set_ylim(0, layout.height_m)
    ax.set_title(f"Strongest zone-to-zone flows (top {MAX_ARROWS}, width by count)")
