"""The shop-front rules of the tracker over hand-made particle clouds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from positioning.layout import Layout, load_layout
from positioning.tracker.particles import FloorMap
from positioning.tracker.shopfront import ShopFront
from positioning.walkable import DEFAULT_STREET_DEPTH_M, WalkableGrid

FASHION = Path(__file__).resolve().parents[2] / "examples" / "stores" / "fashion.toml"


@pytest.fixture(scope="module")
def front() -> ShopFront:
    layout = load_layout(FASHION)
    grid = WalkableGrid.from_layout(layout, street_depth_m=DEFAULT_STREET_DEPTH_M)
    return ShopFront(layout, grid, FloorMap.from_grid(grid))


def _cloud(
    points: list[tuple[float, float]], weights: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(points, np.float32)[None]
    w = np.asarray(weights, np.float32)[None]
    return pos, w / w.sum()


def test_p_inside_is_the_weight_past_the_front(front: ShopFront) -> None:
    pos, w = _cloud([(15.0, 1.0), (15.0, 2.0), (15.0, -1.0), (15.0, -2.0)], [0.4, 0.3, 0.2, 0.1])
    _, _, p_inside = front.summarise(pos, w)
    assert p_inside[0] == pytest.approx(0.7)


def test_the_mean_of_a_split_cloud_lies_on_its_heavier_side(front: ShopFront) -> None:
    pos, w = _cloud([(15.0, 1.0), (15.0, 2.0), (15.0, -1.0), (15.0, -2.0)], [0.1, 0.1, 0.4, 0.4])
    mean, sigma, p_inside = front.summarise(pos, w)
    assert mean[0, 1] == pytest.approx(-1.5)  # the street side, not a point on the glass
    assert sigma[0] > 1.0  # the spread still counts both sides
    assert p_inside[0] == pytest.approx(0.2)


def test_the_street_penalty_hits_only_street_particles(front: ShopFront) -> None:
    pos, w = _cloud([(15.0, 1.0), (15.0, -1.0)], [0.2, 0.8])
    still = np.ones((1, 2), bool)
    penalty, outside = front.street_penalty(pos, w, still, np.array([3.0]), 2.0)
    assert penalty[0].tolist() == [0.0, 6.0]
    assert outside.tolist() == [True]


def test_the_start_prior_splits_the_mass_evenly(front: ShopFront) -> None:
    layout: Layout = load_layout(FASHION)
    pts = np.array([[5.0, 5.0], [6.0, 5.0], [7.0, 5.0], [15.0, -2.0]], np.float32)
    prior = np.exp(front.start_prior(layout, pts))
    assert prior[:3].sum() == pytest.approx(1.0)
    assert prior[3] == pytest.approx(1.0)
