"""The plan's one-page HTML summary: figures, what each added radio buys, pictures, verification."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from planning.plan import Plan

__all__ = ["steps_table", "summary_html", "table_html"]

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.sub { color: #666; }
"""


def steps_table(plan: Plan) -> pd.DataFrame:
    """One row for the layout as hung, one per added radio, with the figures after it."""
    rows = [{"radio": "as hung", "where": "", **_rounded(plan.before.headline())}]
    for i, step in enumerate(plan.steps, start=1):
        rows.append(
            {
                "radio": f"+{i}",
                "where": step.candidate.describe(),
                **_rounded(step.after.headline()),
            }
        )
    return pd.DataFrame(rows)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in values.items()}


def table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in frame.columns)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _text(value: object) -> str:
    if isinstance(value, float):
        return "–" if value != value else f"{value:.2f}"
    return str(value)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def summary_html(
    plan: Plan, maps: dict[str, Path], verification: pd.DataFrame | None, commands: list[str]
) -> str:
    name = html.escape(plan.layout.name)
    kind = "receivers" if plan.topology == "receivers" else "beacons"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>instore plan: {name}</title><style>{CSS}</style></head><body>',
        f"<h1>instore plan: {name}</h1>",
        f'<p class="sub">{len(plan.layout.beacons)} {kind} hung; {len(plan.steps)} proposed within the mounting rules '
        f"<b>{html.escape(', '.join(plan.rules))}</b>. Figures come from the radio model alone "
        "(docs/planning.md says how to read them).</p>",
        "<h2>What each added radio buys</h2>",
        table_html(steps_table(plan)),
        "<p class='sub'>bound: Cramér-Rao bound on the position error of one fix (m); zone_confusion: mean "
        "chance a fix lands across its zone's edge; door: evidence per second telling 1 m inside from the "
        "most alike street point, the time to be 95 % sure, and the enter latency of a shopper walking in.</p>",
    ]
    if verification is not None:
        parts += [
            "<h2>Before / after, simulated days</h2>",
            table_html(verification),
            "<p class='sub'>" + "<br>".join(html.escape(c) for c in commands) + "</p>",
        ]
    titles = {
        "layout": "Proposed radios",
        "bound": "Position error bound",
        "zones": "Zone confusion",
        "door": "The door",
    }
    for key, title in titles.items():
        if key in maps:
            parts += [f"<h2>{title}</h2>", _img(maps[key], title)]
    parts.append("</body></html>")
    return "\n".join(parts)
