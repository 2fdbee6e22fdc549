"""``instore plan`` end to end on the small reference store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from positioning.layout import load_layout
from presence.cli import main


def test_quick_plan_writes_maps_proposal_and_summary(showroom_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    assert (
        main(
            [
                "plan",
                "--store",
                str(showroom_path),
                "-o",
                str(out),
                "--add",
                "2",
                "--quick",
                "--quiet",
            ]
        )
        == 0
    )
    for name in ("bound", "zones", "door", "layout"):
        assert (out / f"plan-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proposed = load_layout(out / "proposed.toml")
    assert len(proposed.beacons) == len(load_layout(showroom_path).beacons) + 2
    record = json.loads((out / "plan.json").read_text())
    assert [s["radio"] for s in record["steps"]] == ["as hung", "+1", "+2"]
    assert record["verification"] is None
    html = (out / "summary.html").read_text()
    assert "What each added radio buys" in html and "data:image/png;base64" in html


def test_verified_plan_has_a_before_after_table(showroom_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    args = ["plan", "--store", str(showroom_path), "-o", str(out), "--add", "1", "--quiet"]
    assert main([*args, "--seeds", "1", "--shoppers", "4", "--minutes", "4"]) == 0
    rows = json.loads((out / "plan.json").read_text())["verification"]
    assert [r["layout"] for r in rows] == ["as hung", "proposed"]
    for r in rows:
        assert 0.0 < r["error_median_m"] < 10.0 and 0.0 <= r["zone_accuracy"] <= 1.0
    assert "Before / after, simulated days" in (out / "summary.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--add", "99"], "--add: must be 0..50"), (["--mount", "roof"], "--mount")],
)
def test_bad_options_are_one_line_errors(
    showroom_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    code = main(
        ["plan", "--store", str(showroom_path), "-o", str(tmp_path / "p"), "--quick", *extra]
    )
    assert code == 2
    assert message in capsys.readouterr().err
