from __future__ import annotations

import json
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from analytics_synth import FASHION, scripted_events, write_locate_dir
from matplotlib.image import imread

from analytics.report import PNG_SIZE_PX, ReportOptions, build_report
from analytics.run import RunData
from presence.cli import main

pytestmark = pytest.mark.slow  # draws five figures


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.rows = 0
        self.ids: list[str] = []
        self._tag = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "tr":
            self.rows += 1
        if a.get("id"):
            self.ids.append(str(a["id"]))

    def handle_endtag(self, tag: str) -> None:
        self._tag = ""

    def handle_data(self, data: str) -> None:
        if self._tag == "h2":
            self.h2.append(data)
        self.text.append(data)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def test_report_page_pngs_and_json(tmp_path: Path, synthetic_run: RunData) -> None:
    truth = synthetic_run.positions.copy()
    truth["x_m"] -= 0.5
    report = build_report(synthetic_run, tmp_path / "r", ReportOptions(k=5), truth=truth)
    page = Page()
    page.feed(report.html.read_text(encoding="utf-8"))
    assert page.h2 == [
        "Dwell heatmap",
        "Visits",
        "Zones",
        "Zone-to-zone flows",
        "Welcome funnel and uplift",
        "Positioning accuracy",
    ]
    assert "privacy" in page.ids
    assert any("fewer than k = 5 distinct visitors are suppressed" in t for t in page.text)
    assert any("No CRM given" in t for t in page.text)
    assert len(page.imgs) == 4 and all(
        str(i["src"]).startswith("data:image/png;base64,") for i in page.imgs
    )
    assert page.rows == 1 + len(synthetic_run.layout.zones)
    assert [p.name for p in report.pngs] == [
        "heatmap.png",
        "visits.png",
        "flows.png",
        "accuracy.png",
    ]
    for png in report.pngs:
        assert png_size(png) == PNG_SIZE_PX
        pixels = imread(png)[..., :3]
        assert pixels.std() > 0.05, f"{png.name} looks blank"
    heat = imread(report.directory / "heatmap.png")[..., :3]
    warm = (heat[..., 0] - heat[..., 2] > 0.25).mean()  # the colour map's oranges and reds
    assert warm > 0.02
    figures = json.loads(report.json.read_text())
    assert figures["heatmap"]["total_s_in_store"] == pytest.approx(
        float(synthetic_run.visits["duration_s"].sum()), rel=1e-6
    )
    assert figures["visits"]["visits"] == 40 and figures["visits"]["passersby"] == 1
    assert figures["accuracy"]["median_m"] == pytest.approx(0.5)
    assert len(figures["zones"]) == len(synthetic_run.layout.zones)
    grid = np.array(figures["heatmap"]["grid"], dtype=float)
    assert grid.shape == (40, 60)


def test_instore_report_on_a_locate_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synthetic_run: RunData
) -> None:
    pos = synthetic_run.positions
    run = write_locate_dir(
        tmp_path / "loc",
        pos[pos["device_id"].astype(str) < "d010"],
        scripted_events("demo-fashion"),
    )
    assert (
        main(["report", str(run), "-o", str(tmp_path / "rep"), "--store", str(FASHION), "--k", "1"])
        == 0
    )
    assert "index.html" in capsys.readouterr().out
    assert (tmp_path / "rep" / "heatmap.png").stat().st_size > 10_000
    figures = json.loads((tmp_path / "rep" / "figures.json").read_text())
    assert figures["kind"] == "locate" and figures["k"] == 1
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "x"), "--store", str(FASHION)]) == 2
    assert "is not a run" in capsys.readouterr().err
