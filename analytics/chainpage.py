"""The chain page: stores side by side, week over week, a day-of-week x hour heatmap of
visits, dwell per zone per visitor, floor heatmaps, and the figures as JSON.

Drawn from :class:`analytics.chain.ChainFigures` with matplotlib's object API; the PNGs are
embedded in one self-contained ``index.html`` and written beside it with ``figures.json``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analytics import plans
from analytics.chain import ChainFigures
from analytics.heatmap import DEFAULT_SMOOTH_M, Occupancy, smoothed_density
from analytics.html import CSS, table_html
from positioning.layout import Layout

__all__ = ["ChainPage", "write_chain_page"]

DPI = 100
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: How the page's k rule reads; it differs from the single-run report's in one respect.
SUPPRESSED_NOTE = (
    "Suppressed figures read 'suppressed' in tables, grey in charts and null in figures.json. "
    "Figures over several days count a visitor once per day; their k test uses the largest "
    "single-day count, so a figure is shown only when k distinct visitors are certain."
)
#: Floor heatmaps drawn at most (one small map per store); the rest are in figures.json.
MAX_FLOOR_MAPS = 12


@dataclass(frozen=True, slots=True)
class ChainPage:
    directory: Path
    html: Path
    json: Path
    pngs: tuple[Path, ...]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _side_by_side(f: ChainFigures) -> pd.DataFrame:
    s = f.summary.copy()
    table = pd.DataFrame(
        {
            "store": s["store"],
            "visits": s["visits"].astype(float),
            "visitor_days": s["visitor_days"].astype(float),
            "capture_rate_%": s["capture_rate"].astype(float),
            "median_visit_min": s["median_visit_s"].astype(float) / 60,
            "suppressed": s["suppressed"],
        }
    )
    if f.previous is not None:
        prev = f.previous.set_index("store")
        before = prev["visits"].reindex(s["store"]).astype(float).to_numpy()
        table["visits_before"] = before
        table["visits_change_%"] = table["visits"].to_numpy() / before - 1
        cap = prev["capture_rate"].reindex(s["store"]).astype(float).to_numpy()
        table["capture_change_pp"] = 100 * (table["capture_rate_%"].to_numpy() - cap)
    return table


def _weeks_table(f: ChainFigures) -> pd.DataFrame:
    w = f.weeks.sort_values(["store", "week"]).copy()
    w["visits"] = w["visits"].astype(float)
    w["week_over_week_%"] = w.groupby("store")["visits"].pct_change()
    return pd.DataFrame(
        {
            "store": w["store"],
            "week_starting": w["week_start"].astype(str),
            "days": w["days"],
            "visits": w["visits"],
            "week_over_week_%": w["week_over_week_%"],
            "capture_rate_%": w["capture_rate"].astype(float),
            "median_visit_min": w["median_visit_s"].astype(float) / 60,
            "suppressed": w["suppressed"],
        }
    )


def _zone_matrix(f: ChainFigures) -> pd.DataFrame:
    z = f.zones.copy()
    z["dwell_min"] = z["dwell_s_per_visitor"].astype(float) / 60
    return z.pivot(index="zone", columns="store", values="dwell_min").reset_index()


def _draw_weeks(f: ChainFigures) -> Figure:
    fig = Figure(figsize=(10, 4.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for store, rows in f.weeks.sort_values("week").groupby("store"):
        ax.plot(
            rows["week_start"].astype(str),
            rows["visits"].astype(float),
            marker="o",
            label=str(store),
        )
    ax.set_ylabel("visits")
    ax.set_xlabel("week starting")
    ax.set_title("Visits week over week")
    ax.grid(alpha=0.3)
    ax.legend(ncols=min(5, max(1, len(f.stores))), fontsize=8)
    return fig


def _draw_dow_hour(f: ChainFigures) -> Figure:
    grid = np.full((7, 24), np.nan)
    hidden = np.zeros((7, 24), dtype=bool)
    for row in f.dow_hour.itertuples():
        value = row.visits_per_store_day
        grid[int(row.dow), int(row.hour)] = np.nan if value is None else float(value)
        hidden[int(row.dow), int(row.hour)] = bool(row.suppressed)
    fig = Figure(figsize=(10, 3.8), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="Blues")
    if hidden.any():
        grey = np.zeros((7, 24, 4))
        grey[hidden] = (0.6, 0.6, 0.6, 1.0)
        ax.imshow(grey, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(7), DAY_NAMES)
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=8)
    ax.set_xlabel(f"hour the visit started ({f.timezone})")
    ax.set_title("Visits per store-day, by day of week and hour (grey: suppressed)")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01).set_label("visits")
    return fig


def _uplift_table(u: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store": u["store"],
            "messaged": u["messaged"].astype(float),
            "control": u["control"].astype(float),
            "messaged_purchase_%": u["messaged_purchase_rate"].astype(float),
            "control_purchase_%": u["control_purchase_rate"].astype(float),
            "uplift_pp": 100 * u["purchase_uplift"].astype(float),
            "ci95_low_pp": 100 * u["purchase_uplift_low"].astype(float),
            "ci95_high_pp": 100 * u["purchase_uplift_high"].astype(float),
            "dwell_uplift_min": u["dwell_uplift_s"].astype(float) / 60,
            "suppressed": u["suppressed"],
        }
    )


def _draw_uplift(u: pd.DataFrame) -> Figure:
    """Purchase uplift (pp) per store and for the chain, each with its 95 % interval;
    suppressed rows are named and left empty."""
    fig = Figure(figsize=(10, 0.9 + 0.38 * len(u)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    labels = []
    for i, row in enumerate(u.itertuples()):
        labels.append(f"{row.store} (suppressed)" if row.suppressed else str(row.store))
        d, lo, hi = (
            float(v)
            for v in (row.purchase_uplift, row.purchase_uplift_low, row.purchase_uplift_high)
        )
        if row.suppressed or not math.isfinite(d):
            continue
        colour = "#c0392b" if i == len(u) - 1 else "#3b6ea5"
        ax.errorbar(
            100 * d, i, xerr=[[100 * (d - lo)], [100 * (hi - d)]], fmt="o", color=colour, capsize=4
        )
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(u)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("purchase in the visit: messaged minus control (percentage points, 95 % CI)")
    ax.set_title("Welcome message uplift against the control group")
    ax.grid(axis="x", alpha=0.3)
    return fig


def occupancy_of(cells: pd.DataFrame, layout: Layout, cell_m: float) -> Occupancy:
    """The floor cells of one store as an :class:`Occupancy` (k_devices as visitors: the
    largest single-day count, a lower bound of the distinct devices)."""
    nx = max(1, int(np.ceil(layout.width_m / cell_m - 1e-9)))
    ny = max(1, int(np.ceil(layout.height_m / cell_m - 1e-9)))
    ix, iy = cells["ix"].to_numpy(np.int64), cells["iy"].to_numpy(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    seconds = np.zeros((ny, nx))
    visitors = np.zeros((ny, nx), dtype=np.int64)
    seconds[iy[inside], ix[inside]] = cells["seconds"].to_numpy(np.float64)[inside]
    visitors[iy[inside], ix[inside]] = cells["k_devices"].to_numpy(np.int64)[inside]
    outside = float(cells["seconds"].to_numpy(np.float64)[~inside].sum())
    return Occupancy(seconds, visitors, cell_m, layout.width_m, layout.height_m, outside)


def _draw_floors(f: ChainFigures, layout: Layout, cell_m: float) -> tuple[Figure, int]:
    stores = list(f.stores)[:MAX_FLOOR_MAPS]
    cols = min(3, len(stores))
    rows = math.ceil(len(stores) / cols)
    fig = Figure(figsize=(5 * cols, 3.6 * rows), dpi=DPI, layout="constrained")
    hidden = 0
    for i, store in enumerate(stores):
        occ = occupancy_of(f.cells[f.cells["store"] == store], layout, cell_m)
        density = smoothed_density(occ, DEFAULT_SMOOTH_M, f.k)
        hidden += int((~np.isfinite(density)).sum())
        plans.draw_heatmap(fig.add_subplot(rows, cols, i + 1), layout, density, occ, title=store)
    return fig, hidden


def _img(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" data-file="{html.escape(png.name)}">'


def write_chain_page(
    f: ChainFigures,
    out_dir: str | Path,
    *,
    engine: str,
    layout: Layout | None = None,
    cell_m: float = 0.5,
) -> ChainPage:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs: list[Path] = []
    sections: list[str] = []

    def emit(
        name: str, fig: Figure, title: str, text: str, table: pd.DataFrame | None = None
    ) -> None:
        path = out / f"{name}.png"
        fig.savefig(path, dpi=DPI, format="png")
        pngs.append(path)
        body = f"<p>{html.escape(text)}</p>{_img(path, title)}"
        if table is not None:
            body += table_html(table)
        sections.append(f'<section id="{name}"><h2>{html.escape(title)}</h2>{body}</section>')

    def tabled(name: str, title: str, text: str, table: pd.DataFrame) -> None:
        sections.append(
            f'<section id="{name}"><h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>{table_html(table)}</section>'
        )

    compare = (
        f" Compared with the previous period ({f.previous_period.label()})."
        if f.previous_period is not None
        else ""
    )
    tabled(
        "stores",
        "Stores side by side",
        "Visits; visitor-days (a device with a visit, counted once per day); capture rate = "
        "visitor-days / devices seen (visitors and passers-by) per day; median visit length."
        + compare,
        _side_by_side(f),
    )
    emit(
        "weeks",
        _draw_weeks(f),
        "Week over week",
        "Weeks start on the period's first day; the last may be partial (see days).",
        _weeks_table(f),
    )
    emit(
        "dow_hour",
        _draw_dow_hour(f),
        "Day of week x hour",
        f"Mean visits per store and day of that weekday, by the hour the visit started ({f.timezone}), over the selected stores.",
    )
    tabled(
        "zones",
        "Dwell per zone per visitor (minutes)",
        "Dwell time in the zone (the presence engine's dwells) per visitor-day of the store.",
        _zone_matrix(f),
    )
    if f.uplift is not None and not f.uplift.empty:
        emit(
            "uplift",
            _draw_uplift(f.uplift),
            "Welcome uplift",
            "Visits with a welcome decision: messaged against the control group (decided, never "
            "messaged). Purchase in the store from the visit's start to 10 minutes after its end, "
            "as a difference of proportions with a Newcombe 95 % interval; zone dwell after the "
            "decision as a difference of means (Welch). A row is shown only when both groups "
            "hold at least k distinct devices.",
            _uplift_table(f.uplift),
        )
    elif f.uplift is None:
        tabled(
            "uplift",
            "Welcome uplift",
            "No CRM given (--crm URL): the welcome funnel and its uplift need the decision log.",
            pd.DataFrame(),
        )
    hidden_cells = 0
    if layout is not None and not f.cells.empty:
        fig, hidden_cells = _draw_floors(f, layout, cell_m)
        more = f" (the first {MAX_FLOOR_MAPS} stores)" if len(f.stores) > MAX_FLOOR_MAPS else ""
        emit(
            "floors",
            fig,
            "Dwell heatmaps" + more,
            f"Seconds per m² over the period on {cell_m:g} m cells, as in the single-store report, all stores on the layout {layout.name}.",
        )
    suppressed = {
        "stores": int(f.summary["suppressed"].sum()),
        "weeks": int(f.weeks["suppressed"].sum()),
        "dow_hour_cells": int(f.dow_hour["suppressed"].sum()),
        "zones": int(f.zones["suppressed"].sum()),
        "floor_cells": hidden_cells,
        "zone_stats": int(f.zone_stats["suppressed"].sum()),
        "flows": int(f.flows["suppressed"].sum()),
        "uplift_rows": 0 if f.uplift is None else int(f.uplift["suppressed"].sum()),
    }
    privacy = (
        f"Figures resting on fewer than k = {f.k} distinct visitors are suppressed "
        f"({', '.join(f'{v} {k.replace(chr(95), chr(32))}' for k, v in suppressed.items())}). "
        + SUPPRESSED_NOTE
        if f.k > 1
        else "k-anonymity is off (k = 1): every figure is shown, however few visitors it describes."
    )
    title = f"instore chain report: {len(f.stores)} stores, {f.period.label()}"
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="sub">stores: {html.escape(", ".join(f.stores))}; engine: {html.escape(engine)}</p>',
            f'<p class="privacy" id="privacy">{html.escape(privacy)}</p>',
            *sections,
            "</body></html>",
        ]
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    figures = {
        "stores": list(f.stores),
        "period": [f.period.first.isoformat(), f.period.last.isoformat()],
        "timezone": f.timezone,
        "engine": engine,
        "k": f.k,
        "privacy": {"sentence": privacy, **suppressed},
        "summary": _records(f.summary),
        "previous": None if f.previous is None else _records(f.previous),
        "weeks": _records(f.weeks),
        "dow_hour": _records(f.dow_hour),
        "zones": _records(f.zones),
        "zone_stats": _records(f.zone_stats),
        "flows": _records(f.flows),
        "uplift": None if f.uplift is None else _records(f.uplift),
    }
    js = out / "figures.json"
    js.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return ChainPage(out, index, js, tuple(pngs))
