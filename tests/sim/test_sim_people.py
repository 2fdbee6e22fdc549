"""People behave: paths around obstacles, in and out through the entrance, passers-by stay out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from positioning.geometry import count_crossed, points_in_polygon
from positioning.layout import load_layout
from sim.crowd import arrival_times, checkout_queue
from sim.params import SimConfig
from sim.run import World, build_world
from sim.truth import visits_table

START_S = 1_795_942_800.0  # 2026-11-28T09:00:00Z, a Saturday morning


@pytest.fixture(scope="module")
def world() -> World:
    path = Path(__file__).resolve().parents[2] / "examples" / "stores" / "fashion.toml"
    return build_world(
        load_layout(path), SimConfig(shoppers=30, duration_s=1800.0, start_s=START_S, seed=11)
    )


def _segments(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tr = world.population.trajectories
    last = np.zeros(len(tr.t), dtype=bool)
    last[tr.offsets[1:] - 1] = True
    a = np.column_stack([tr.x, tr.y])[~last]
    b = np.column_stack([tr.x, tr.y])[np.flatnonzero(~last) + 1]
    agent = np.repeat(np.arange(tr.n_agents), np.diff(tr.offsets))[~last]
    return a, b, agent


def test_no_path_segment_crosses_or_enters_an_obstacle(world: World) -> None:
    a, b, _ = _segments(world)
    polygons = [o.polygon for o in world.layout.obstacles]
    assert count_crossed(a, b, polygons).max() == 0
    tr = world.population.trajectories
    t = np.linspace(START_S, START_S + 1800.0, 200)
    agents = np.repeat(np.arange(tr.n_agents), len(t))
    xy, _ = tr.sample(agents, np.tile(t, tr.n_agents))
    for poly in polygons:
        assert not points_in_polygon(xy, poly).any()


def test_shop_front_is_crossed_only_through_the_entrance(world: World) -> None:
    a, b, _ = _segments(world)
    crossing = (a[:, 1] > 0) != (b[:, 1] > 0)
    frac = a[crossing, 1] / (a[crossing, 1] - b[crossing, 1])
    x = a[crossing, 0] + frac * (b[crossing, 0] - a[crossing, 0])
    lo, hi = world.layout.entrance[:, 0].min(), world.layout.entrance[:, 0].max()
    assert crossing.any()
    assert ((x >= lo) & (x <= hi)).all()
    inside = (a[:, 1] > 0) & (b[:, 1] > 0)
    w, h = world.layout.width_m, world.layout.height_m
    for p in (a[inside], b[inside]):
        assert ((p[:, 0] > 0) & (p[:, 0] < w) & (p[:, 1] < h)).all()


def test_every_shopper_enters_and_leaves_by_the_entrance_and_passers_by_never_enter(
    world: World,
) -> None:
    tr = world.population.trajectories
    end = START_S + 1e6  # the whole trajectory, not just the window
    visits = visits_table(world.population, world.venue, START_S, end).to_pandas()
    shoppers = visits[visits["kind"] == "shopper"]
    assert len(shoppers) == 30
    assert shoppers["enter_t"].notna().all() and shoppers["exit_t"].notna().all()
    assert (shoppers["exit_t"] > shoppers["enter_t"]).all()
    for a, agent in enumerate(world.population.agents):
        ys = tr.y[tr.offsets[a] : tr.offsets[a + 1]]
        if agent.kind == "shopper":
            assert ys[0] < 0 and ys[-1] < 0  # from the street, back to the street
        if agent.kind == "passerby":
            assert (ys < 0).all()
    passers = visits[visits["kind"] == "passerby"]
    assert len(passers) == 90 and passers["enter_t"].isna().all()


def test_staff_are_in_the_store_all_day(world: World) -> None:
    tr = world.population.trajectories
    staff = [i for i, a in enumerate(world.population.agents) if a.kind == "staff"]
    assert len(staff) == 6  # 600 m2 at one per 100 m2
    for a in staff:
        assert tr.start_t[a] <= START_S and tr.end_t[a] >= START_S + 1800.0
        assert (tr.y[tr.offsets[a] : tr.offsets[a + 1]] > 0).all()
        assert world.population.agents[a].visible


def test_personas_differ_functional_visits_are_shorter(world: World) -> None:
    visits = visits_table(world.population, world.venue, START_S, START_S + 1e6).to_pandas()
    shoppers = visits[visits["kind"] == "shopper"]
    length = (shoppers["exit_t"] - shoppers["enter_t"]).groupby(shoppers["persona"]).median()
    assert length["functional"] < 0.6 * length["fun"]


def test_arrivals_follow_the_hourly_profile() -> None:
    profile = tuple([0.0] * 9 + [1.0, 3.0] + [0.0] * 13)  # all between 09:00 and 11:00
    t = arrival_times(4000, START_S, 2 * 3600.0, profile, np.random.default_rng(1))
    first_hour = np.mean(t < START_S + 3600.0)
    assert first_hour == pytest.approx(0.25, abs=0.03)
    assert np.all(np.diff(t) >= 0)


def test_checkout_queue_is_fifo_and_never_serves_more_than_its_tills() -> None:
    arrivals = np.asarray([0.0, 1.0, 2.0, 3.0, 50.0])
    service = np.full(5, 10.0)
    q = checkout_queue(arrivals, 2, service, max_queue=6)
    wait, till = q.wait_s, q.till
    np.testing.assert_allclose(wait, [0.0, 0.0, 8.0, 8.0, 0.0])
    assert q.ahead_starts == ((), (), (), (10.0,), ())
    start = arrivals + wait
    for t in start:
        busy = np.sum((start <= t) & (start + service > t))
        assert busy <= 2
    assert set(till.tolist()) <= {0, 1}


def test_a_long_queue_makes_buyers_give_up() -> None:
    arrivals = np.arange(10, dtype=float)  # ten buyers in ten seconds, one till of 60 s
    q = checkout_queue(arrivals, 1, np.full(10, 60.0), max_queue=3)
    assert [len(a) for a in q.ahead_starts[:5]] == [0, 0, 1, 2, 3]
    assert (q.till < 0).tolist() == [False] * 4 + [True] * 6
    assert q.wait_s[3] == pytest.approx(180.0 - 3.0)


def test_zone_raster_answers_exactly_like_the_layout(world: World) -> None:
    from positioning.zonemap import ZoneLookup

    layout = world.layout
    rng = np.random.default_rng(2)
    points = rng.uniform([-2.0, -5.0], [32.0, 22.0], size=(20000, 2))
    edges = np.round(points * 2) / 2  # many points exactly on zone edges (whole/half metres)
    both = np.vstack([points, edges])
    np.testing.assert_array_equal(ZoneLookup(layout).zone_of(both), layout.zone_of(both))


def test_tills_face_the_store_and_the_queue_line_is_walkable(world: World) -> None:
    venue = world.venue
    tills = np.asarray([venue.planner.position(n) for n in venue.tills])
    queue = np.asarray([venue.planner.position(n) for n in venue.queue])
    assert len(tills) >= 2 and len(queue) >= 4
    assert (tills[:, 1] < 18.0).all()  # in front of the fashion counter (y 18-18.8), not behind it
    assert venue.grid.is_free(np.vstack([tills, queue])).all()
    steps = np.hypot(*np.diff(queue, axis=0).T)
    assert (steps > 0.4).all() and (steps < 1.2).all()  # one person apart
