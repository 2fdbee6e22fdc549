"""Greedy placement within mounting rules, and the proposed layout it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planning.errors import PlanningError
from planning.mounting import WALL_INSET_M, candidates, parse_rules
from planning.plan import make_plan
from positioning.geometry import points_in_polygon
from positioning.layout import load_layout, parse_layout


def test_rules_are_checked() -> None:
    assert parse_rules("door, ceiling") == ("door", "ceiling")
    with pytest.raises(PlanningError, match="--mount: unknown rule.*roof"):
        parse_rules("door,roof")


def test_candidates_follow_their_rule(fashion_path: Path) -> None:
    layout = load_layout(fashion_path)
    walls = candidates(layout, ("outline",), 2.7, layout.beacon_xy)
    assert walls
    for c in walls:
        to_wall = min(c.x_m, c.y_m, layout.width_m - c.x_m, layout.height_m - c.y_m)
        assert to_wall == pytest.approx(WALL_INSET_M)
    shelves = candidates(layout, ("shelves",), 2.7, layout.beacon_xy)
    shelf_polys = [o.polygon for o in layout.obstacles if o.kind == "shelf"]
    for c in shelves:
        assert any(points_in_polygon([[c.x_m, c.y_m]], p)[0] for p in shelf_polys)
    for c in candidates(layout, ("ceiling",), 2.7, layout.beacon_xy):
        assert not any(points_in_polygon([[c.x_m, c.y_m]], o.polygon)[0] for o in layout.obstacles)
        assert np.min(np.hypot(*(layout.beacon_xy - [c.x_m, c.y_m]).T)) >= 1.0
    door = candidates(layout, ("door",), 2.7, layout.beacon_xy)
    assert door and all(c.y_m <= 3.0 and 12.9 <= c.x_m <= 17.1 for c in door)
    assert any(c.y_m < 0.5 for c in door)


def _far_from_door(tmp_path: Path) -> Path:
    path = tmp_path / "shop.toml"
    beacons = "".join(
        f'\n[[beacons]]\nid = "b{i}"\nx = {x}\ny = {y}\ntx_power = -59\n'
        for i, (x, y) in enumerate([(1, 11), (7, 11), (13, 11), (1, 6), (13, 6)])
    )
    path.write_text(
        "# a shop whose beacons all hang at the back\n"
        '[store]\nname = "shop"\nwidth = 14.0\nheight = 12.0\nentrance = [[6.0, 0.0], [8.0, 0.0]]\n'
        + beacons
        + '\n[[zones]]\nname = "front"\npolygon = [[0, 0], [14, 0], [14, 6], [0, 6]]\n'
        '\n[[zones]]\nname = "back"\npolygon = [[0, 6], [14, 6], [14, 12], [0, 12]]\n',
        encoding="utf-8",
    )
    return path


def test_plan_adds_at_the_door_when_the_door_is_blind(tmp_path: Path) -> None:
    store = _far_from_door(tmp_path)
    plan = make_plan(store, 2, rules=("outline", "door"))
    assert len(plan.steps) == 2
    first = plan.steps[0]
    assert first.candidate.rule in ("door", "outline") and first.candidate.y_m < 3.0
    assert plan.after.door_decision_s < 0.5 * plan.before.door_decision_s
    assert plan.after.bound_median_m <= plan.before.bound_median_m
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(plan.proposal, encoding="utf-8")
    layout = load_layout(proposed)
    original = load_layout(store)
    assert layout.beacons[: len(original.beacons)] == original.beacons
    added = layout.beacons[len(original.beacons) :]
    assert [b.id for b in added] == ["p01", "p02"]
    assert (added[0].x_m, added[0].y_m, added[0].z_m) == pytest.approx(
        (first.candidate.x_m, first.candidate.y_m, first.candidate.z_m), abs=0.01
    )
    assert "# a shop whose beacons all hang at the back" in plan.proposal


def test_no_addition_asked_changes_nothing(tmp_path: Path) -> None:
    store = _far_from_door(tmp_path)
    plan = make_plan(store, 0)
    assert plan.steps == [] and plan.after is plan.before
    assert (
        parse_layout(__import__("tomllib").loads(plan.proposal)).beacons
        == load_layout(store).beacons
    )
    with pytest.raises(PlanningError, match="--add"):
        make_plan(store, -1)
