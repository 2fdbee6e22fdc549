"""Zone hysteresis on synthetic tracks: margins and minimum times stop flapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.layout import Layout, parse_layout
from positioning.zones import (
    NO_ZONE,
    ZoneHysteresis,
    ZoneIndex,
    ZoneParams,
    distance_outside_polygon,
    within_margin,
)


@pytest.fixture
def two_zones() -> Layout:
    return parse_layout(
        {
            "store": {"name": "t", "width": 20.0, "height": 10.0},
            "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
            "zones": [
                {"name": "left", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]},
                {"name": "right", "polygon": [[10, 0], [20, 0], [20, 10], [10, 10]]},
            ],
        }
    )


def run(layout: Layout, xs: np.ndarray, params: ZoneParams = ZoneParams()) -> list:
    machine = ZoneHysteresis(layout, params)
    changes = []
    for t, x in enumerate(xs):
        raw = int(layout.zone_of((x, 5.0))[0])
        change = machine.update(float(t), raw, float(x), 5.0)
        if change is not None:
            changes.append(change)
    return changes


def test_distance_outside_polygon_is_zero_inside_and_euclidean_outside() -> None:
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    d = distance_outside_polygon([[0.5, 0.5], [2.0, 0.5], [2.0, 2.0]], square)
    assert d == pytest.approx([0.0, 1.0, np.sqrt(2.0)])


def test_jitter_across_a_boundary_does_not_flap(two_zones: Layout) -> None:
    rng = np.random.default_rng(1)
    xs = 9.8 + rng.normal(0.0, 0.3, size=300)  # standing 0.2 m left of the boundary
    changes = run(two_zones, np.concatenate([np.full(5, 5.0), xs]))
    assert [c.zone_to for c in changes] == [0]


def test_raw_geometry_without_hysteresis_would_flap(two_zones: Layout) -> None:
    rng = np.random.default_rng(1)
    xs = np.concatenate([np.full(5, 5.0), 9.8 + rng.normal(0.0, 0.3, size=300)])
    changes = run(two_zones, xs, ZoneParams(margin_m=0.0, min_inside_s=0.0))
    assert len(changes) > 20


def test_walking_across_commits_once_dated_to_the_crossing(two_zones: Layout) -> None:
    xs = np.arange(0.0, 20.0, 1.2)  # 1.2 m/s, one fix per second
    changes = run(two_zones, xs)
    assert [(c.zone_from, c.zone_to) for c in changes] == [(NO_ZONE, 0), (0, 1)]
    crossing = changes[1]
    # first fix more than the 0.5 m margin past x=10 is x=10.8 at t=9
    assert crossing.t_s == pytest.approx(9.0)
    assert crossing.x_m > 10.5


def test_brief_visit_shorter_than_min_time_is_not_a_zone_change(two_zones: Layout) -> None:
    xs = np.array([5.0] * 5 + [12.0] * 2 + [5.0] * 5)  # 2 fixes (1 s) in "right"
    assert [c.zone_to for c in run(two_zones, xs)] == [0]
    # the same two fixes are a visit when 1 s is enough
    assert [c.zone_to for c in run(two_zones, xs, ZoneParams(min_inside_s=1.0))] == [0, 1, 0]


def test_zone_index_raster_agrees_with_the_polygons(two_zones: Layout) -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform([0.0, 0.0], [20.0, 10.0], size=(2000, 2))
    away = np.abs(pts[:, 0] - 10.0) > 0.1  # off the shared boundary
    index = ZoneIndex(two_zones)
    assert (index(pts)[away] == two_zones.zone_of(pts)[away]).all()
    assert index.at(5.0, 5.0) == 0 and index.at(-1.0, 5.0) == NO_ZONE
    assert index([[np.nan, 1.0]])[0] == NO_ZONE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=1), min_size=1, max_size=120))
def test_committed_changes_are_at_least_the_minimum_time_apart(raw: list[int]) -> None:
    layout = parse_layout(
        {
            "store": {"name": "t", "width": 20.0, "height": 10.0},
            "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
            "zones": [
                {"name": "l", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]},
                {"name": "r", "polygon": [[10, 0], [20, 0], [20, 10], [10, 10]]},
            ],
        }
    )
    params = ZoneParams(margin_m=0.0, min_inside_s=2.0)
    machine = ZoneHysteresis(layout, params)
    x_of = {-1: 25.0, 0: 5.0, 1: 15.0}
    times = [c.t_s for t, z in enumerate(raw) if (c := machine.update(float(t), z, x_of[z], 5.0))]
    assert all(b - a >= params.min_inside_s for a, b in zip(times, times[1:], strict=False))


def test_scalar_margin_test_agrees_with_the_vectorised_distance() -> None:
    rng = np.random.default_rng(4)
    poly = np.array([[0.0, 0.0], [4.0, 0.0], [5.0, 3.0], [1.0, 4.0]])
    pts = rng.uniform(-2.0, 7.0, size=(500, 2))
    d = distance_outside_polygon(pts, poly)
    got = np.array([within_margin(x, y, poly, 0.5) for x, y in pts])
    clear = np.abs(d - 0.5) > 1e-6
    assert (got[clear] == (d[clear] <= 0.5)).all()
