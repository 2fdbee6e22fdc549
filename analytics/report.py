"""The report: every figure of a run as PNGs, one self-contained HTML page and a JSON.

``build_report`` computes each section from a :class:`~analytics.run.RunData`, draws it
with matplotlib's object API (no pyplot state), writes ``<name>.png`` beside the page,
embeds the same bytes in ``index.html`` and writes every figure's numbers to
``figures.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analytics import accuracy as acc_mod
from analytics import flows as flows_mod
from analytics import heatmap as heat_mod
from analytics import plans
from analytics import visits as visits_mod
from analytics.html import Section, render_page
from analytics.privacy import DEFAULT_K, PrivacyNote, check_k, suppressed_mask
from analytics.run import RunData, without_staff
from analytics.uplift import CrmTables, Uplift, draw_uplift, uplift
from analytics.zones import zone_table

#: Every PNG is drawn at this size, so a page lays out the same whatever the store.
FIGURE_SIZE_IN = (10.0, 6.5)
DPI = 100
PNG_SIZE_PX = (int(FIGURE_SIZE_IN[0] * DPI), int(FIGURE_SIZE_IN[1] * DPI))


@dataclass(frozen=True, slots=True)
class ReportOptions:
    k: int = DEFAULT_K
    cell_m: float = heat_mod.DEFAULT_CELL_M
    smooth_m: float = heat_mod.DEFAULT_SMOOTH_M
    max_gap_s: float = heat_mod.DEFAULT_MAX_GAP_S
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Report:
    directory: Path
    html: Path
    json: Path
    pngs: tuple[Path, ...]
    figures: dict[str, Any] = field(default_factory=dict)


def new_figure() -> Figure:
    return Figure(figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dict(orient="records")
    return [
        {
            k: (
                None
                if isinstance(v, float) and not math.isfinite(v)
                else (v.item() if isinstance(v, np.generic) else v)
            )
            for k, v in r.items()
        }
        for r in rows
    ]


def build_report(
    run: RunData,
    out_dir: str | Path,
    options: ReportOptions | None = None,
    *,
    truth: pd.DataFrame | None = None,
    crm: CrmTables | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> Report:
    """Write index.html, the PNGs and figures.json into ``out_dir``; returns their paths.
    ``progress`` is called with each section's name as it starts."""
    o = options or ReportOptions()
    check_k(o.k)
    b = _Builder(without_staff(run), o, Path(out_dir))
    b.out.mkdir(parents=True, exist_ok=True)
    for name, section in (
        ("heatmap", b.heatmap),
        ("visits", b.visits),
        ("zones", b.zones),
        ("flows", b.flows),
        ("uplift", lambda: b.uplift(crm)),
        ("accuracy", lambda: b.accuracy(truth)),
    ):
        progress(name)
        section()
    progress("page")
    return b.write()


class _Builder:
    """Collects sections, PNGs and figure data while a report is built."""

    def __init__(self, run: RunData, options: ReportOptions, out: Path) -> None:
        self.run, self.o, self.out = run, options, out
        self.sections: list[Section] = []
        self.pngs: list[Path] = []
        self.figures: dict[str, Any] = {
            "store": run.store,
            "kind": run.kind,
            "source": run.source,
            "k": options.k,
        }
        self.note = PrivacyNote(k=options.k)

    def emit(
        self, name: str, fig: Figure, title: str, text: str = "", table: pd.DataFrame | None = None
    ) -> None:
        fig.savefig(self.out / f"{name}.png", dpi=DPI, format="png")
        self.pngs.append(self.out / f"{name}.png")
        self.sections.append(Section(title=title, png=self.pngs[-1], text=text, table=table))

    def heatmap(self) -> None:
        run, o = self.run, self.o
        occ = heat_mod.occupancy(run.positions, run.layout, o.cell_m, o.max_gap_s)
        density = heat_mod.smoothed_density(occ, o.smooth_m, o.k)
        fig = new_figure()
        plans.draw_heatmap(
            fig.add_subplot(), run.layout, density, occ, title=f"Dwell heatmap: {run.store}"
        )
        hidden = int(suppressed_mask(occ.visitors, o.k).sum())
        self.note = dataclasses.replace(self.note, heatmap_cells=hidden)
        self.figures["heatmap"] = {
            "unit": "seconds per m^2 (smoothed)",
            "cell_m": o.cell_m,
            "smooth_sigma_m": o.smooth_m,
            "max_gap_s": o.max_gap_s,
            "total_s_in_store": float(occ.seconds.sum()),
            "total_s_outside": occ.outside_s,
            "suppressed_cells": hidden,
            "grid": [
                [round(float(v), 3) if math.isfinite(v) else None for v in row] for row in density
            ],
        }
        self.emit(
            "heatmap",
            fig,
            "Dwell heatmap",
            "Time spent per square metre of floor, over every device's track (a sample stands for the time until the "
            f"next one, at most {o.max_gap_s:g} s), on {o.cell_m:g} m cells smoothed with a {o.smooth_m:g} m Gaussian; square-root colour scale.",
        )

    def visits(self) -> None:
        vs = visits_mod.visit_stats(self.run.visits, self.run.roles, self.o.timezone)
        self.figures["visits"] = vs.to_dict()
        fig = new_figure()
        grid = fig.add_gridspec(2, 2)
        visits_mod.draw_per_hour(fig.add_subplot(grid[0, :]), vs)
        visits_mod.draw_buckets(fig.add_subplot(grid[1, 0]), vs)
        visits_mod.draw_capture(fig.add_subplot(grid[1, 1]), vs)
        median = "n/a" if vs.median_duration_s is None else f"{vs.median_duration_s / 60:.1f} min"
        self.emit(
            "visits",
            fig,
            "Visits",
            f"{vs.visits} visits by {vs.visitors} devices, median length {median}; {vs.passersby} passers-by seen outside only; "
            f"{vs.staff} staff devices left out. New versus repeat counts the same pseudonymous device id across the data (rotated ids count as new).",
        )

    def zones(self) -> None:
        run = self.run
        table = zone_table(run.layout, run.zone_visits, run.dwells, run.visits, self.o.k)
        self.note = dataclasses.replace(self.note, zone_rows=int(table["suppressed"].sum()))
        self.figures["zones"] = _jsonable(table)
        text = (
            "Visitors: distinct devices in the zone. Share of visits: store visits that entered it. Dwell: a stop in the zone "
            "(the presence engine's or simulator's definition); median and 90th percentile in seconds."
        )
        self.sections.append(Section(title="Zones", text=text, table=table))

    def flows(self) -> None:
        fl = flows_mod.flows(self.run.zone_visits, self.run.layout, self.o.k)
        self.note = dataclasses.replace(self.note, flow_cells=int(fl.suppressed.sum()))
        self.figures["flows"] = fl.to_dict()
        fig = new_figure()
        a, b = fig.subplots(1, 2, width_ratios=[1.5, 1])
        plans.draw_flow_arrows(a, self.run.layout, fl)
        flows_mod.draw_matrix(b, fl)
        self.emit(
            "flows",
            fig,
            "Zone-to-zone flows",
            "A transition is a device's next zone visit in another zone within "
            f"{flows_mod.DEFAULT_MAX_GAP_S:g} s of leaving the previous one.",
        )

    def uplift(self, crm: CrmTables | None) -> None:
        title = "Welcome funnel and uplift"
        if crm is None:
            self.figures["uplift"] = None
            self.sections.append(
                Section(
                    title=title,
                    text="No CRM given: run with --crm URL (the welcome service's database) to see the welcome funnel and its uplift against the control group.",
                )
            )
            return
        up = uplift(crm, self.run.visits, self.run.dwells)
        self.figures["uplift"] = up.to_dict()
        funnel = pd.DataFrame({"step": list(up.funnel), "visits": list(up.funnel.values())})
        fig = new_figure()
        a, b = fig.subplots(1, 2)
        draw_uplift(a, b, up)
        self.emit("uplift", fig, title, _uplift_text(up), funnel)

    def accuracy(self, truth: pd.DataFrame | None) -> None:
        title = "Positioning accuracy"
        if truth is None:
            self.figures["accuracy"] = None
            self.sections.append(
                Section(
                    title=title,
                    text="No ground truth given (instore report DIR --truth SIMDIR compares a locate run with its simulation).",
                )
            )
            return
        ac = acc_mod.accuracy(self.run.positions, truth, self.run.layout)
        self.figures["accuracy"] = ac.to_dict()
        fig = new_figure()
        a, b = fig.subplots(1, 2)
        acc_mod.draw_cdf(a, ac)
        acc_mod.draw_confusion(b, ac)
        self.emit(
            "accuracy",
            fig,
            title,
            "Located positions against the simulator's ground truth, interpolated to each located sample's time; "
            f"{ac.unmatched} samples had no truth around them.",
        )

    def write(self) -> Report:
        n = self.note
        self.figures["privacy"] = {
            "k": n.k,
            "sentence": n.sentence(),
            "heatmap_cells": n.heatmap_cells,
            "zone_rows": n.zone_rows,
            "flow_cells": n.flow_cells,
        }
        self.figures["notes"] = list(self.run.notes)
        html = self.out / "index.html"
        html.write_text(render_page(self.run, self.sections, n, self.run.notes), encoding="utf-8")
        js = self.out / "figures.json"
        js.write_text(json.dumps(self.figures, indent=1, default=str), encoding="utf-8")
        return Report(self.out, html, js, tuple(self.pngs), self.figures)


def _uplift_text(up: Uplift) -> str:
    def pct(v: float | None) -> str:
        return "n/a" if v is None or math.isnan(v) else f"{100 * v:.1f} %"

    d, lo, hi = up.purchase_uplift
    dd, dlo, dhi = up.dwell_uplift
    dwell = (
        "Zone dwell after the decision: difference n/a (too few visits)."
        if math.isnan(dd)
        else f"Zone dwell after the decision: difference {dd:.0f} s per visit (95 % CI {dlo:.0f} to {dhi:.0f} s, Welch)."
    )
    return (
        f"Purchase in the visit: messaged {pct(up.purchase_rate['messaged'])}, control {pct(up.purchase_rate['control'])}; "
        f"difference {pct(d)} (95 % CI {pct(lo)} to {pct(hi)}, Newcombe hybrid score). " + dwell
    )
