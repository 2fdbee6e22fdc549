"""Dwell detection on synthetic tracks: stops with position noise, walking, glances."""

from __future__ import annotations

import numpy as np
import pytest

from positioning.visits.dwell import DwellChange, DwellDetector, DwellParams


def track(segments: list[tuple[str, float, float, float]], seed: int = 0, noise_m: float = 0.5):
    """('walk', seconds, vx, vy) or ('stop', seconds, 0, 0) segments at 1 Hz, with noise."""
    rng = np.random.default_rng(seed)
    pts, pos = [], np.array([0.0, 0.0])
    for kind, seconds, vx, vy in segments:
        for _ in range(int(seconds)):
            if kind == "walk":
                pos = pos + (vx, vy)
            pts.append(pos + rng.normal(0.0, noise_m, 2))
    return np.array(pts)


def run(points: np.ndarray, params: DwellParams = DwellParams()) -> list[DwellChange]:
    det = DwellDetector(params)
    out = []
    for t, (x, y) in enumerate(points):
        change = det.update(float(t), float(x), float(y))
        if change is not None:
            out.append(change)
    end = det.end(float(len(points)))
    return out + ([end] if end is not None else [])


def test_a_noisy_stop_is_one_dwell_with_start_near_the_truth() -> None:
    pts = track([("walk", 10, 1.2, 0), ("stop", 60, 0, 0), ("walk", 20, 1.2, 0)])
    changes = run(pts)
    assert [c.started for c in changes] == [True, False]
    start, end = changes
    assert start.t_s == pytest.approx(10.0, abs=3.0)
    assert end.t_s == pytest.approx(70.0, abs=4.0)
    assert end.start_s == start.t_s


def test_walking_is_never_a_dwell() -> None:
    pts = track([("walk", 200, 1.0, 0.3)], noise_m=0.8)
    assert run(pts) == []


def test_a_stop_shorter_than_the_threshold_is_not_a_dwell() -> None:
    pts = track([("walk", 10, 1.2, 0), ("stop", 12, 0, 0), ("walk", 10, 1.2, 0)])
    assert run(pts) == []


@pytest.mark.parametrize("seed", range(5))
def test_a_short_glance_away_does_not_split_a_dwell(seed: int) -> None:
    pts = track([("walk", 5, 1.2, 0), ("stop", 40, 0, 0)], seed=seed, noise_m=0.3)
    pts[25:27] += (3.0, 0.0)  # two wild fixes
    assert [c.started for c in run(pts)] == [True, False]


def test_stops_a_short_walk_apart_are_one_dwell_like_the_truth() -> None:
    pts = track([("stop", 25, 0, 0), ("walk", 4, 1.0, 0), ("stop", 25, 0, 0), ("walk", 20, 1.0, 0)])
    changes = run(pts)
    assert [c.started for c in changes] == [True, False]
    assert changes[1].t_s - changes[0].t_s == pytest.approx(54.0, abs=5.0)


def test_stops_a_long_walk_apart_are_two_dwells() -> None:
    pts = track(
        [("stop", 25, 0, 0), ("walk", 20, 1.0, 0), ("stop", 25, 0, 0), ("walk", 20, 1.0, 0)]
    )
    assert [c.started for c in run(pts)] == [True, False, True, False]


def test_a_stop_just_inside_a_zone_edge_belongs_to_that_zone() -> None:
    # walking up (1.2 m/s) to a counter whose zone starts at y = 5.5, standing 0.1 m inside
    # it: the still run's mean still holds the approach, the stop itself is in the zone
    def zone_of(x_m: float, y_m: float) -> int:
        return 1 if y_m >= 5.5 else 0

    ys = [min(1.2 * t, 5.6) for t in range(40)]
    det = DwellDetector(DwellParams(), zone_of)
    changes = [c for t, y in enumerate(ys) if (c := det.update(float(t), 8.0, y))]
    assert [c.started for c in changes] == [True]
    assert det.zone == 1
