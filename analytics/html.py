"""The report page: one self-contained HTML file (PNGs embedded as data URIs, inline CSS)."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics.privacy import SUPPRESSED, PrivacyNote
from analytics.run import RunData

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1040px; color: #222; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
section { margin: 2rem 0; } img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .9rem; } th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; } .privacy { background: #fff6e0; padding: .6rem 1rem; border-left: 4px solid #e0a800; }
.suppressed { color: #999; font-style: italic; } .notes { color: #555; font-size: .9rem; }
"""


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    png: Path | None = None
    text: str = ""
    table: pd.DataFrame | None = None


def _cell(value: object, column: str, hidden: bool) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f'<td class="suppressed">{SUPPRESSED}</td>' if hidden else "<td>–</td>"
    if isinstance(value, float):
        text = (
            f"{100 * value:.1f} %"
            if column.startswith("share") or column.endswith("%")
            else f"{value:,.0f}"
            if abs(value) >= 100 or value == int(value)
            else f"{value:.1f}"
        )
    else:
        text = str(value)
    return f"<td>{html.escape(text)}</td>"


def table_html(frame: pd.DataFrame) -> str:
    columns = [c for c in frame.columns if c != "suppressed"]
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in columns)
    rows = []
    for _, row in frame.iterrows():  # a row per zone or funnel step: tens, not millions
        hidden = bool(row.get("suppressed", False))
        rows.append("<tr>" + "".join(_cell(row[c], str(c), hidden) for c in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _img(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" data-file="{html.escape(png.name)}">'


def render_page(
    run: RunData, sections: list[Section], note: PrivacyNote, notes: tuple[str, ...]
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>instore report: {html.escape(run.store)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>instore report: {html.escape(run.store)}</h1>",
        f'<p class="sub">{html.escape(run.kind)} run from <code>{html.escape(run.source)}</code></p>',
        f'<p class="privacy" id="privacy">{html.escape(note.sentence())}</p>',
    ]
    for s in sections:
        anchor = s.title.lower().replace(" ", "-")
        parts.append(f'<section id="{html.escape(anchor)}"><h2>{html.escape(s.title)}</h2>')
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        if s.png is not None:
            parts.append(_img(s.png, s.title))
        if s.table is not None:
            parts.append(table_html(s.table))
        parts.append("</section>")
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        parts.append(
            f'<section class="notes"><h2>Notes on the input</h2><ul>{items}</ul></section>'
        )
    parts.append("</body></html>")
    return "\n".join(parts)
