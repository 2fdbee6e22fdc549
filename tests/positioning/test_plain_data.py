"""The plain-data benchmark's scenes: a walker alone with stops, a device standing alone
at a few spots in turn, and only standing samples scored for a standing device."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from benchmarks import plain_data


def plain() -> ModuleType:
    return plain_data


def test_walker_alone_walks_about_one_metre_per_second_with_a_few_stops() -> None:
    p = plain()
    variant = next(v for v in p.VARIANTS if v.scene == "walker")
    paths = p.scene(variant, 600.0, np.random.default_rng(3))
    assert list(paths) == ["walk-0"]
    xy, heading, moving = paths["walk-0"]
    assert xy.shape == (6000, 2) and heading.shape == (6000,) and moving.shape == (6000,)
    assert np.all((xy >= 0.0) & (xy <= np.asarray(p.ROOM_M)))
    assert not np.isnan(heading).any()
    speed = np.hypot(*np.diff(xy, axis=0).T) / 0.1
    assert 0.7 < np.median(speed[moving[1:]]) < 1.3
    assert np.all(speed[~moving[1:]] < 1e-6)
    stops = np.count_nonzero(np.diff(moving.astype(int)) == -1)
    assert stops >= 2 and 0.02 < 1.0 - moving.mean() < 0.5


def test_standing_alone_stands_at_each_spot_in_turn() -> None:
    p = plain()
    variant = next(v for v in p.VARIANTS if v.scene == "standing")
    paths = p.scene(variant, 1800.0, np.random.default_rng(4))
    xy, _, moving = paths["still-0"]
    spots = np.unique(xy[~moving], axis=0)
    assert len(spots) == p.SPOTS
    assert moving.mean() < 0.05  # the walks between the spots are short
    # each spot holds for about an equal share of the recording
    share = [np.mean(np.all(xy == s, axis=1)) for s in spots]
    assert min(share) > 0.15


def test_a_standing_device_is_scored_only_while_it_stands() -> None:
    p = plain()
    layout = p.room(12)
    variant = next(v for v in p.VARIANTS if v.scene == "standing")
    rng = np.random.default_rng(5)
    paths = p.scene(variant, 300.0, rng)
    xy, heading, moving = paths["still-0"]
    moving = np.zeros_like(moving)
    moving[1500:] = True  # pretend the second half is a walk: not scored
    paths = {"still-0": (xy, heading, moving)}
    batch = p.observe(layout, paths, variant, rng)
    e, _ = p.errors(layout, batch, paths, "centroid", 0)
    assert len(e["walk"]) == 0
    assert 50 <= len(e["still"]) <= 100  # fixes at 1 Hz from 60 s to 150 s
