"""Store presence on synthetic tracks: visitors, passers-by, exits, staff."""

from __future__ import annotations

import math
from dataclasses import replace as dataclasses_replace

import numpy as np
import pytest

from positioning.layout import Layout, load_layout
from positioning.visits.store import (
    EntranceDepth,
    StoreChange,
    StoreParams,
    StorePresence,
    inside_probability,
)


@pytest.fixture
def fashion(fashion_path) -> Layout:
    return load_layout(fashion_path)


def run(machine: StorePresence, depth: EntranceDepth, pts, t0: float = 0.0) -> list[StoreChange]:
    out = []
    for i, (x, y) in enumerate(pts):
        change = machine.update(t0 + i, float(x), float(y), float(depth((x, y))[0]))
        if change is not None:
            out.append(change)
    return out


def test_depth_is_signed_distance_across_the_entrance_side(fashion: Layout) -> None:
    depth = EntranceDepth(fashion)
    assert depth([[15.0, 3.0], [15.0, -2.0]]) == pytest.approx([3.0, -2.0])


def test_shopper_walking_in_enters_at_the_door_crossing(fashion: Layout) -> None:
    depth = EntranceDepth(fashion)
    ys = np.arange(-3.0, 10.0, 1.1)  # crosses y=0 between t=2 (-0.8) and t=3 (0.3)
    changes = run(StorePresence(StoreParams()), depth, [(15.0, y) for y in ys])
    assert len(changes) == 1 and changes[0].entered
    assert changes[0].t_s == pytest.approx(3.0)


@pytest.mark.parametrize("seed", range(10))
def test_passer_by_in_the_street_is_never_a_visitor(fashion: Layout, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = np.arange(-5.0, 35.0, 1.35)
    ys = -2.0 + rng.normal(0.0, 1.0, len(xs))  # 2 m out, 1 m error: some fixes inside
    changes = run(StorePresence(StoreParams()), EntranceDepth(fashion), np.column_stack([xs, ys]))
    assert changes == []


def test_a_fix_with_a_posterior_enters_after_the_shorter_settle(fashion: Layout) -> None:
    # a device first heard inside, its posterior sure from the start: it enters once the
    # posterior settle has passed; the same fixes without a posterior wait for settle_s
    params = StoreParams(settle_s=10.0, settle_posterior_s=5.0, enter_sure_p=None)

    def enter_time(p_inside: float) -> float:
        machine = StorePresence(params)
        for t in range(20):
            change = machine.update(float(t), 15.0, 6.0, 6.0, 0.5, p_inside)
            if change is not None:
                return t
        return math.inf

    # evidence from t=5 on, held one epoch (enter_min_s): entered at t=6
    assert enter_time(0.999) == 6
    assert enter_time(math.nan) == 11
    # the defaults: a posterior settles sooner than a fix without one
    assert StoreParams().settle_posterior_s < StoreParams().settle_s


def test_a_posterior_settles_afresh_after_the_device_was_unheard(fashion: Layout) -> None:
    params = StoreParams(settle_posterior_s=5.0, enter_sure_p=None, away_timeout_s=15.0)
    machine = StorePresence(params)
    assert all(machine.update(float(t), 15.0, -3.0, -3.0, 0.5, 0.01) is None for t in range(3))
    # back after a gap longer than the away timeout, sure it is inside: a new device
    back = [machine.update(30.0 + t, 15.0, 6.0, 6.0, 0.5, 0.999) for t in range(8)]
    assert [c is not None for c in back] == [False] * 6 + [True, False]


def test_walking_out_into_the_street_exits_at_the_crossing(fashion: Layout) -> None:
    depth = EntranceDepth(fashion)
    ys = np.concatenate([np.full(5, 6.0), np.arange(5.0, -5.0, -1.0)])
    changes = run(
        StorePresence(StoreParams(settle_s=0.0, settle_posterior_s=0.0)),
        depth,
        [(15.0, y) for y in ys],
    )
    assert [c.entered for c in changes] == [True, False]
    assert changes[1].reason == "street"
    assert changes[1].t_s == pytest.approx(5 + 5)  # y=0 at index 10 is not inside any more


def test_unheard_device_leaves_after_the_away_timeout(fashion: Layout) -> None:
    params = StoreParams(away_timeout_s=20.0, settle_s=0.0, settle_posterior_s=0.0)
    machine = StorePresence(params)
    run(machine, EntranceDepth(fashion), [(15.0, 6.0)] * 5)
    assert machine.inside
    assert machine.tick(4.0 + 19.0, last_row_s=4.0) is None
    change = machine.tick(4.0 + 20.0, last_row_s=4.0)
    assert change is not None and change.reason == "timeout" and change.t_s == pytest.approx(4.0)


def test_a_device_present_for_hours_becomes_staff(fashion: Layout) -> None:
    machine = StorePresence(StoreParams(staff_after_s=3600.0))
    depth = EntranceDepth(fashion)
    run(machine, depth, [(10.0, 10.0)] * 3599)
    assert not machine.staff
    run(machine, depth, [(10.0, 10.0)] * 5, t0=3599.0)
    assert machine.staff


def test_an_uncertain_fix_deep_inside_is_not_an_enter(fashion: Layout) -> None:
    machine = StorePresence(StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=None))
    depth = EntranceDepth(fashion)
    for t in range(5):  # a new device: the locator's first fixes have a 6 m radius
        assert (
            machine.update(float(t), 15.0, 5.0, float(depth((15.0, 5.0))[0]), sigma_m=6.0) is None
        )
    assert machine.update(5.0, 15.0, 5.0, 1.5, sigma_m=1.0) is None  # p 0.93
    assert machine.update(6.0, 15.0, 5.0, 5.0, sigma_m=1.0) is None  # p 1.0, held 0 s
    change = machine.update(7.0, 15.0, 5.0, 5.0, sigma_m=1.0)
    assert change is not None and change.entered


def test_inside_probability_is_a_normal_error_across_the_front() -> None:
    assert inside_probability(0.0, 1.0, 0.0) == pytest.approx(0.5)
    assert inside_probability(1.0, 1.0, 0.0) == pytest.approx(0.8413, abs=1e-4)
    assert inside_probability(-1.0, 1.0, 0.0) == pytest.approx(0.1587, abs=1e-4)
    # the floor adds in quadrature: a zero radius is not certainty
    assert inside_probability(0.5, 0.0, 0.3) == pytest.approx(inside_probability(5.0, 0.0, 3.0))
    assert inside_probability(0.1, 0.0, 0.0) == 1.0 and inside_probability(-0.1, 0.0, 0.0) == 0.0
    assert inside_probability(math.inf, 5.0, 0.3) == 1.0  # no street
    assert inside_probability(3.0, math.inf, 0.3) == 0.5


def test_the_locators_own_probability_decides_when_it_has_one(fashion: Layout) -> None:
    params = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=None)
    # the fix sits in the street, but the posterior is confident the device is inside
    machine = StorePresence(params)
    for t in range(5):
        assert machine.update(float(t), 15.0, -0.5, -0.5, sigma_m=1.0, p_inside=0.2) is None
    assert machine.update(5.0, 15.0, -0.5, -0.5, sigma_m=1.0, p_inside=0.995) is None
    change = machine.update(6.0, 15.0, -0.5, -0.5, sigma_m=1.0, p_inside=0.995)
    assert change is not None and change.entered
    assert change.t_s == 5.0  # the fix never crossed the door: dated to the confident run
    # deep inside with a small radius, but the posterior is split between street and floor
    machine = StorePresence(params)
    assert all(
        machine.update(float(t), 15.0, 6.0, 6.0, sigma_m=0.5, p_inside=0.6) is None
        for t in range(30)
    )
    # the computed probability of the same fixes would have entered
    machine = StorePresence(params)
    assert any(machine.update(float(t), 15.0, 6.0, 6.0, sigma_m=0.5) for t in range(30))


def test_the_probability_must_hold_for_enter_min_s(fashion: Layout) -> None:
    # computed from the fixes or the locator's posterior: two epochs at the 1 s default
    # (without the sure-evidence rule, which would take these at once)
    for p_inside in (math.nan, 0.999):
        machine = StorePresence(
            StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=None)
        )
        results = [machine.update(float(t), 15.0, 6.0, 6.0, 0.5, p_inside) for t in range(2)]
        assert results[0] is None and results[1] is not None and results[1].t_s == 0.0
    # a one-epoch spike of the posterior is no visit (below enter_sure_p, 0.99 by default)
    machine = StorePresence(StoreParams(settle_s=0.0, settle_posterior_s=0.0))
    spiky = [0.9, 0.985, 0.9, 0.95, 0.989, 0.8]
    assert all(
        machine.update(float(t), 15.0, 6.0, 6.0, 0.5, p) is None for t, p in enumerate(spiky)
    )


def test_sure_evidence_enters_without_the_hold(fashion: Layout) -> None:
    # enter_sure_p set: a fix at least that sure enters at its own epoch; a weaker one
    # (>= enter_p only) still waits for the hold, and an unsettled device not at all
    params = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=0.999)
    machine = StorePresence(params)
    change = machine.update(0.0, 15.0, 6.0, 6.0, 0.5, 0.9995)
    assert change is not None and change.entered and change.t_s == 0.0
    machine = StorePresence(params)
    assert machine.update(0.0, 15.0, 6.0, 6.0, 0.5, 0.99) is None
    assert machine.update(1.0, 15.0, 6.0, 6.0, 0.5, 0.99) is not None
    machine = StorePresence(dataclasses_replace(params, settle_posterior_s=10.0))
    assert machine.update(0.0, 15.0, 6.0, 6.0, 0.5, 1.0) is None
    # computed from a zero-radius fix: 0.93 m past the front is 0.999 with the 0.3 m floor
    depth = EntranceDepth(fashion)
    ys = [-2.0, -1.0, 0.2, 1.2]
    held = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=None)
    shipped = run(StorePresence(held), depth, [(15.0, y) for y in ys])
    sure = run(StorePresence(params), depth, [(15.0, y) for y in ys])
    assert shipped == []  # 0.2 m is not evidence, 1.2 m is held one epoch
    assert len(sure) == 1 and sure[0].t_s == 2.0  # entered at t=3, dated to the crossing
    # off (None): p = 1 still waits for the hold; on by default at 0.99
    machine = StorePresence(StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_sure_p=None))
    assert machine.update(0.0, 15.0, 6.0, 6.0, 0.5, 1.0) is None
    assert StoreParams().enter_sure_p == 0.99


def test_a_rising_posterior_enters_when_the_hold_may_start_lower(fashion: Layout) -> None:
    # enter_lead_p set: a fix at enter_p after one at enter_lead_p or more enters at its own
    # epoch; a spike out of a low posterior, or after a dip below the lead, still waits
    def entered_at(ps: list[float], lead: float | None) -> float:
        params = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_lead_p=lead)
        machine = StorePresence(params)
        for t, p in enumerate(ps):
            change = machine.update(float(t), 15.0, 2.0, 2.0, 0.5, p)
            if change is not None:
                return t
        return math.inf

    rising = [0.1, 0.8, 0.98, 0.98]
    assert entered_at(rising, None) == 3  # the hold: two epochs at enter_p (0.975)
    assert entered_at(rising, 0.7) == 2
    assert entered_at(rising, 0.9) == 3  # 0.8 is below this lead
    spike = [0.1, 0.3, 0.98, 0.5]
    assert entered_at(spike, 0.7) == math.inf
    dip = [0.8, 0.6, 0.98, 0.4]
    assert entered_at(dip, 0.7) == math.inf
    # a lead above enter_p is enter_p; off by default
    assert entered_at(rising, 0.99) == 3
    assert StoreParams().enter_lead_p is None
    # with a reach: only near the entrance (x 13-17 on the fashion store's front)
    door = EntranceDepth(fashion)

    def entered_at_x(x_m: float) -> float:
        params = StoreParams(
            settle_s=0.0, settle_posterior_s=0.0, enter_lead_p=0.7, enter_lead_reach_m=5.0
        )
        machine = StorePresence(params, door=door)
        for t, p in enumerate(rising):
            if machine.update(float(t), x_m, 2.0, 2.0, 0.5, p) is not None:
                return t
        return math.inf

    assert entered_at_x(15.0) == 2 and entered_at_x(21.0) == 2  # 4 m beside the door
    assert entered_at_x(23.0) == 3  # 6 m beside it: the full hold


def test_an_exit_needs_the_posterior_in_the_street_when_exit_p_is_set() -> None:
    # a visit entered on a sure posterior; then its fix stands 2.6 m out in the street for
    # three epochs. The cloud split across the front (p_inside 0.33 -> 0.15, as measured
    # on a wrong exit, benchmarks/door_exits.py) is no exit with exit_p 0.1; a posterior
    # sure of the street (0.01) is, dated as before; fixes without a posterior (NaN) and
    # None (off) keep the depth rule
    def left_at(street_p: list[float], exit_p: float | None) -> float:
        params = StoreParams(settle_s=0.0, settle_posterior_s=0.0, exit_p=exit_p)
        machine = StorePresence(params)
        for t in range(3):
            machine.update(float(t), 15.0, 3.0, 3.0, 0.5, 0.999)
        assert machine.inside
        for t, p in enumerate(street_p, start=3):
            change = machine.update(float(t), 15.0, -2.6, -2.6, 0.5, p)
            if change is not None:
                assert not change.entered and change.t_s == 3.0  # dated to the crossing
                return t
        return math.inf

    split = [0.33, 0.2, 0.15, 0.15]
    assert left_at(split, None) == 5
    assert left_at(split, 0.1) == math.inf
    assert left_at(split, 0.5) == 5
    assert left_at([0.01, 0.01, 0.01], 0.1) == 5
    assert left_at([0.01, 0.3, 0.01, 0.01, 0.01], 0.1) == 7  # the unsure fix restarts the run
    assert left_at([math.nan] * 3, 0.1) == 5
    assert StoreParams().exit_p == 0.025  # 1 - enter_p


def _flip(machine: StorePresence, depth: EntranceDepth, xs, ys, p_inside) -> list[StoreChange]:
    out = []
    for t, (x, y, p) in enumerate(zip(xs, ys, p_inside, strict=True)):
        change = machine.update(float(t), x, y, float(depth((x, y))[0]), 1.0, p)
        if change is not None:
            out.append(change)
    return out


def test_a_posterior_that_flips_in_through_the_window_waits_for_depth(fashion: Layout) -> None:
    # fashion's entrance spans x 13-17 on y = 0. A passer-by walks the street from x = 30
    # and its (sure) posterior flips inside 1.3 m deep at x 26-21, 9+ m beside the door:
    # no visit with enter_door_reach_m; the former rule (None) counts it
    depth = EntranceDepth(fashion)
    xs = [30.0 - 1.2 * t for t in range(8)]
    ys = [-1.5, -1.5, -1.4, 1.3, 1.3, 1.3, 1.4, 1.3]
    p = [0.1, 0.1, 0.2, 0.999, 0.999, 1.0, 1.0, 1.0]
    rule = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_door_reach_m=6.0)
    assert _flip(StorePresence(rule, door=depth), depth, xs, ys, p) == []
    off = StoreParams(settle_s=0.0, settle_posterior_s=0.0)
    assert len(_flip(StorePresence(off, door=depth), depth, xs, ys, p)) == 1
    # the same fix past the window aisle (3 m deep) is evidence again
    deeper = [*ys[:6], 3.2, 3.5]
    changes = _flip(StorePresence(rule, door=depth), depth, xs, deeper, p)
    assert len(changes) == 1 and changes[0].entered
    # a walk in through the door enters as before, even when the fix flips in 5 m beside it
    xs_door = [20.0, 19.0, 18.0, 17.0, 16.0, 15.0, 14.0, 13.0]
    for x_in in (15.0, 21.0):
        xs_in = [*xs_door[:3], x_in, x_in, x_in, x_in, x_in]
        changes = _flip(StorePresence(rule, door=depth), depth, xs_in, ys, p)
        assert len(changes) == 1 and changes[0].entered and changes[0].t_s == 3.0
    # it also came through the door when its fix passed the door in the street within
    # enter_door_memory_s before flipping in farther along
    xs_past = [18.0, 15.0, 12.0, 9.0, 6.0, 5.0, 4.0, 3.0]  # in at x 9: 4 m beside
    far = StoreParams(settle_s=0.0, settle_posterior_s=0.0, enter_door_reach_m=2.0)
    assert _flip(StorePresence(far, door=depth), depth, xs_past, ys, p) == []
    remembered = dataclasses_replace(far, enter_door_memory_s=3.0)
    assert len(_flip(StorePresence(remembered, door=depth), depth, xs_past, ys, p)) == 1


def test_the_entrance_span_measures_distance_along_the_front(fashion: Layout) -> None:
    depth = EntranceDepth(fashion)
    assert depth.beside_m(15.0, -2.0) == 0.0 and depth.beside_m(13.0, 4.0) == 0.0
    assert depth.beside_m(10.0, 1.0) == pytest.approx(3.0)
    assert depth.beside_m(27.5, -1.0) == pytest.approx(10.5)


def test_a_window_flip_that_holds_long_enough_enters_when_asked(fashion: Layout) -> None:
    # enter_far_hold_s: a fix that came in 9+ m beside the door enters once it has held that
    # long, however shallow; a flip of three epochs that falls back does not
    depth = EntranceDepth(fashion)
    n = 12
    xs = [30.0 - 0.3 * t for t in range(n)]
    ys = [-1.5, -1.5, *([1.3] * (n - 2))]
    sure = [0.1, 0.1, *([0.999] * (n - 2))]
    held = StoreParams(
        settle_s=0.0, settle_posterior_s=0.0, enter_door_reach_m=6.0, enter_far_hold_s=5.0
    )
    changes = _flip(StorePresence(held, door=depth), depth, xs, ys, sure)
    assert len(changes) == 1 and changes[0].entered
    assert changes[0].t_s == 2.0  # dated to the crossing, entered once held 5 s (t = 7)
    flip = [0.1, 0.1, 0.999, 0.999, 0.999, *([0.3] * (n - 5))]
    assert _flip(StorePresence(held, door=depth), depth, xs, ys, flip) == []
    assert (
        _flip(
            StorePresence(dataclasses_replace(held, enter_far_hold_s=None), door=depth),
            depth,
            xs,
            ys,
            sure,
        )
        == []
    )
