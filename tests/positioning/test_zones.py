"""Zone hysteresis on synthetic tracks: margins and minimum times stop flapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.layout import Layout, parse_layout
from positioning.tracker.zone_posterior import ZonePosterior
from positioning.visits.zones import (
    ZoneHysteresis,
    ZoneParams,
    distance_outside_polygon,
    within_margin,
)
from positioning.zonemap import NO_ZONE, ZONE_RASTER_M, ZoneIndex


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


def test_zone_index_of_xy_planes_is_the_plain_raster_lookup(two_zones: Layout) -> None:
    # the in-place lookup on x and y planes: the arithmetic of a plain floor and bounds test
    rng = np.random.default_rng(3)
    pts = rng.uniform([-2.0, -2.0], [22.0, 12.0], size=(3000, 2)).astype(np.float32)
    pts[:5] = [[np.nan, 1.0], [1.0, np.inf], [0.0, 0.0], [19.999, 9.999], [-0.001, 5.0]]
    index = ZoneIndex(two_zones)
    ix = np.floor(pts[:, 0].astype(np.float64) / ZONE_RASTER_M)
    iy = np.floor(pts[:, 1].astype(np.float64) / ZONE_RASTER_M)
    ny, nx = index._shape
    inside = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < ny)
    cell = np.where(inside, iy * nx + ix, nx * ny).astype(np.intp)
    want = index._flat[cell]
    np.testing.assert_array_equal(index.of_xy(pts[:, 0], pts[:, 1]), want)
    planes = index.of_xy(pts[:, 0].reshape(50, 60), pts[:, 1].reshape(50, 60))
    np.testing.assert_array_equal(planes.ravel(), want)
    np.testing.assert_array_equal(index(pts), want)


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


@pytest.fixture
def aisle() -> Layout:
    """Two zones with a 1 m aisle between them (x 9-10) and a wide no-zone strip (y 10-14)."""
    return parse_layout(
        {
            "store": {"name": "t", "width": 20.0, "height": 14.0},
            "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
            "zones": [
                {"name": "left", "polygon": [[0, 0], [9, 0], [9, 10], [0, 10]]},
                {"name": "right", "polygon": [[10, 0], [20, 0], [20, 10], [10, 10]]},
            ],
        }
    )


def run_points(
    layout: Layout,
    xy: np.ndarray,
    p_zone: np.ndarray | None = None,
    use_gap: bool = True,
    sigma_m: float = 1.0,
) -> list[int]:
    """Committed zone after each fix (1 Hz, radius ``sigma_m``), the fixes' zone and gap
    from a ZoneIndex."""
    index = ZoneIndex(layout)
    machine = ZoneHysteresis(layout, ZoneParams())
    raw, gap = index(xy), index.gap_m(xy)
    p = np.full(len(xy), np.nan) if p_zone is None else p_zone
    out = []
    for t, ((x, y), r, g, pz) in enumerate(zip(xy, raw, gap, p, strict=True)):
        gap_m = float(g) if use_gap else np.inf
        machine.update(float(t), int(r), float(x), float(y), gap_m, pz, sigma_m)
        out.append(machine.zone)
    return out


def test_gap_raster_agrees_with_the_distance_to_the_nearest_zone(aisle: Layout) -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform([0.0, 0.0], [20.0, 14.0], size=(2000, 2))
    exact = np.min([distance_outside_polygon(pts, z.polygon) for z in aisle.zones], axis=0)
    got = ZoneIndex(aisle).gap_m(pts)
    assert np.abs(got - exact).max() <= ZONE_RASTER_M
    assert ZoneIndex(aisle).gap_m([[-1.0, 5.0], [np.nan, 1.0]]).tolist() == [np.inf, np.inf]


def test_a_fix_in_the_aisle_next_to_another_zone_does_not_leave_the_zone(aisle: Layout) -> None:
    # standing in "left" at its edge; the fixes scatter into the aisle, 0.6-0.9 m out of
    # "left" and so beyond its margin, but within the margin of "right"
    xy = np.array([(8.0, 5.0)] * 5 + [(9.6 + 0.1 * (i % 4), 5.0) for i in range(20)])
    assert set(run_points(aisle, xy)[4:]) == {0}
    # without the aisle rule these fixes are evidence of "no zone"
    assert run_points(aisle, xy, use_gap=False)[-1] == NO_ZONE
    # exact fixes (radius 0) in the aisle are in the aisle
    assert run_points(aisle, xy, sigma_m=0.0)[-1] == NO_ZONE


def test_a_fix_clear_of_every_zone_still_leaves(aisle: Layout) -> None:
    xy = np.array([(5.0, 8.0)] * 5 + [(5.0, 12.0)] * 5)  # 2 m beyond "left": no zone
    assert run_points(aisle, xy)[-1] == NO_ZONE


def test_a_sure_posterior_commits_after_the_fast_time(two_zones: Layout) -> None:
    xy = np.array([(5.0, 5.0)] * 5 + [(15.0, 5.0)] * 5)  # jumps into "right" at t=5
    fast = ZoneParams().fast_min_s
    slow = ZoneParams().min_inside_s
    sure = run_points(two_zones, xy, np.full(len(xy), 0.95))
    unsure = run_points(two_zones, xy, np.full(len(xy), 0.5))
    no_posterior = run_points(two_zones, xy)
    assert sure.index(1) == 5 + fast
    assert unsure.index(1) == no_posterior.index(1) == 5 + slow


def test_zone_posterior_is_the_weight_in_the_fixs_zone(two_zones: Layout) -> None:
    pos = np.array([[[5.0, 5.0], [6.0, 5.0], [15.0, 5.0], [25.0, 5.0]]] * 2, dtype=np.float32)
    w = np.array([[0.5, 0.2, 0.2, 0.1], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    fix = np.array([[5.5, 5.0], [25.0, 5.0]])  # in "left"; outside every zone
    got = ZonePosterior(two_zones).p_zone(pos, w, fix)
    assert got == pytest.approx([0.7, 0.25])
    assert len(ZonePosterior(two_zones).p_zone(pos[:0], w[:0], fix[:0])) == 0
