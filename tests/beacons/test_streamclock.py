"""Which reading times may move a live engine's clock (issue 18, finding 2)."""

from __future__ import annotations

import numpy as np

from beacons.streamclock import MAX_CLAIMS, StreamClock

NOW = 1_796_000_000.0  # the wall clock of these tests (2026-12-01)
PAST = 1_795_392_000.0  # a replayed day, 2026-11-23
YEAR_2099 = 4_070_908_800.0


def clock() -> StreamClock:
    return StreamClock(max_jump_s=3600.0, wall_clock=lambda: NOW)


def test_a_replayed_day_and_a_live_stream_go_through() -> None:
    c = clock()
    assert all(c.admit("a", PAST + i) for i in range(100))
    assert c.latest_s == PAST + 99
    live = clock()
    assert live.admit("a", NOW - 0.5) and live.admit("b", NOW + 0.2)


def test_one_reading_decades_ahead_is_refused_and_moves_nothing() -> None:
    c = clock()
    assert c.admit("good", PAST)
    assert not c.admit("rogue", YEAR_2099)
    assert c.latest_s == PAST
    assert c.admit("good", PAST + 1.0)
    # the same device insisting does not confirm itself
    assert not c.admit("rogue", YEAR_2099 + 1.0)


def test_the_first_reading_of_a_stream_is_held_to_the_wall_clock() -> None:
    c = clock()
    assert not c.admit("rogue", YEAR_2099)
    assert c.latest_s is None
    assert c.admit("good", PAST)


def test_a_store_opening_after_a_night_goes_on_live() -> None:
    c = clock()
    assert c.admit("a", NOW - 14 * 3600)  # yesterday evening
    assert c.admit("a", NOW)  # this morning, stamped now: one phone is enough
    assert c.latest_s == NOW


def test_a_future_dated_replay_starts_when_a_second_device_confirms() -> None:
    c = clock()
    t = NOW + 30 * 86_400  # a simulated day next month
    assert not c.admit("a", t)
    assert c.admit("b", t + 2.0)
    assert c.admit("a", t + 3.0)  # from then on the stream goes on


def test_claims_stay_bounded_whatever_the_ids() -> None:
    c = clock()
    for i in range(10 * MAX_CLAIMS):
        c.admit(f"rogue-{i}", YEAR_2099 + i * 86_400.0)  # far apart: none confirms another
    assert len(c._claims) <= MAX_CLAIMS
    assert c.latest_s is None


def test_a_replay_keeps_its_nights_a_live_stream_holds_to_the_hour() -> None:
    replay = clock()
    assert replay.admit("a", PAST) and replay.admit("a", PAST + 2 * 86_400)  # a weekend
    live = clock()
    assert live.admit("a", NOW) and not live.admit("a", NOW + 2 * 86_400)


def test_a_file_starts_its_own_stream_and_keeps_its_gaps() -> None:
    c = StreamClock(wall_clock=None)
    t = np.array([YEAR_2099 - 1e6, YEAR_2099 - 1e6 + 1, YEAR_2099 - 1e6 + 5220, YEAR_2099])
    d = np.array(["calib3", "calib3", "calib4", "rogue"])
    assert c.admit_many(t, d).tolist() == [True, True, True, False]
