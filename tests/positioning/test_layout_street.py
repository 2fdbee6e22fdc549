"""A radio facing the street: where the layout accepts it, and the tracker's glass per path."""

from __future__ import annotations

import numpy as np
import pytest

from positioning.errors import LayoutError
from positioning.layout import STREET_BAND_M, parse_layout
from positioning.tracker.filter import ParticleTracker
from positioning.tracker.radiomap import RadioMaps
from positioning.walkable import DEFAULT_STREET_DEPTH_M, WalkableGrid


def shop(*beacons: tuple[float, float], entrance: str = "bottom") -> dict:
    doors = {
        "bottom": [[4.0, 0.0], [6.0, 0.0]],
        "top": [[4.0, 8.0], [6.0, 8.0]],
        "right": [[10.0, 3.0], [10.0, 5.0]],
    }
    store: dict = {"name": "t", "width": 10.0, "height": 8.0}
    if entrance != "none":
        store["entrance"] = doors[entrance]
    rows = [{"id": "in", "x": 5.0, "y": 4.0, "tx_power": -59}]
    rows += [{"id": f"s{i}", "x": x, "y": y, "tx_power": -59} for i, (x, y) in enumerate(beacons)]
    return {"store": store, "beacons": rows}


def test_the_band_is_the_street_the_tracker_models() -> None:
    assert STREET_BAND_M == DEFAULT_STREET_DEPTH_M


@pytest.mark.parametrize(
    ("entrance", "xy"),
    [("bottom", (5.0, -0.2)), ("bottom", (0.5, -3.9)), ("top", (9.0, 8.3)), ("right", (10.2, 1.0))],
)
def test_a_beacon_may_face_the_street_in_front_of_the_entrance(
    entrance: str, xy: tuple[float, float]
) -> None:
    layout = parse_layout(shop(xy, entrance=entrance))
    assert layout.in_street_band(layout.beacon_xy).tolist() == [False, True]
    assert layout.contains(layout.beacon_xy).tolist() == [True, False]


@pytest.mark.parametrize(
    ("entrance", "xy", "why"),
    [
        ("bottom", (5.0, -4.5), r"street band in front of the entrance \(x 0..10.0, y -4..0\)"),
        ("bottom", (11.0, 1.0), "street band"),  # beside the store, not in front of it
        ("bottom", (-0.5, -1.0), "street band"),  # past the corner of the shop front
        ("top", (5.0, -0.2), r"\(x 0..10.0, y 8.0..12\)"),  # the back of the store
        ("none", (5.0, -0.2), "only a store with an entrance has a street"),
    ],
)
def test_a_beacon_elsewhere_outside_is_refused_by_name(
    entrance: str, xy: tuple[float, float], why: str
) -> None:
    with pytest.raises(LayoutError, match=why) as info:
        parse_layout(shop(xy, entrance=entrance), source="shop.toml")
    assert info.value.key == "beacons[1]"
    assert "beacon 's0'" in str(info.value) and str(info.value).startswith("shop.toml: beacons[1]")


def test_the_tracker_puts_the_glass_between_the_two_sides() -> None:
    """Crossings of the shop front, one wall: for the inside beacon in the street only, for
    the street beacon on the floor only (no obstacles: nothing else is crossed)."""
    layout = parse_layout(shop((5.0, -0.2)))
    grid = WalkableGrid.from_layout(layout, street_depth_m=DEFAULT_STREET_DEPTH_M)
    maps = RadioMaps.build(layout, grid, np.array([1.5, 1.0]), front_walls=1.0)
    points = np.array([[5.0, 1.0], [5.0, -1.0], [2.0, 6.0], [8.0, -3.0]])
    ix, iy = grid.cell_of(points)
    cell = iy * grid.free.shape[1] + ix
    crossings = maps.crossings.reshape(2, -1)[:, cell]
    assert crossings.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]
    unmodelled = RadioMaps.build(layout, grid, np.array([1.5, 1.0]), front_walls=0.0)
    assert not unmodelled.crossings.any()


def test_a_declared_front_loss_is_the_glass_per_path_in_db() -> None:
    """``[radio] shopfront_loss_db``: each path across the front loses that, whatever the
    fitted obstacle loss, and ``front_walls`` no longer counts it as an obstacle."""
    doc = shop((5.0, -0.2))
    doc["radio"] = {"shopfront_loss_db": 3.5}
    layout = parse_layout(doc)
    assert layout.shopfront_loss_db == 3.5
    grid = WalkableGrid.from_layout(layout, street_depth_m=DEFAULT_STREET_DEPTH_M)
    heights = np.array([1.5, 1.0])
    maps = RadioMaps.build(layout, grid, heights, front_walls=1.0)
    assert not maps.crossings.any()
    points = np.array([[5.0, 1.0], [5.0, -1.0], [2.0, 6.0], [8.0, -3.0]])
    ix, iy = grid.cell_of(points)
    cell = iy * grid.free.shape[1] + ix
    assert maps.front_db is not None
    assert maps.front_db.reshape(2, -1)[:, cell].tolist() == [[0, 3.5, 0, 3.5], [3.5, 0, 3.5, 0]]
    # the path-loss table: the declared glass on top of the same table without it
    plain = RadioMaps.build(parse_layout(shop((5.0, -0.2))), grid, heights, front_walls=0.0)
    with_glass = maps.path_loss_db(2.0, 4.0, 5.0).reshape(-1, 9, 2)
    without = plain.path_loss_db(2.0, 4.0, 5.0).reshape(-1, 9, 2)
    assert np.allclose((with_glass - without)[cell, 8], [[0, 3.5], [3.5, 0], [0, 3.5], [3.5, 0]])


def test_without_a_declaration_the_maps_are_as_before() -> None:
    layout = parse_layout(shop((5.0, -0.2)))
    assert layout.shopfront_loss_db is None
    grid = WalkableGrid.from_layout(layout, street_depth_m=DEFAULT_STREET_DEPTH_M)
    maps = RadioMaps.build(layout, grid, np.array([1.5, 1.0]), front_walls=0.0)
    assert maps.front_db is None


@pytest.mark.parametrize("bad", [-1.0, 41.0, "3 dB", True, float("nan")])
def test_a_bad_front_loss_is_refused_by_name(bad: object) -> None:
    doc = shop()
    doc["radio"] = {"shopfront_loss_db": bad}
    with pytest.raises(LayoutError, match="from 0 to 40") as info:
        parse_layout(doc, source="shop.toml")
    assert info.value.key == "radio.shopfront_loss_db"


def test_the_tracker_takes_the_glass_from_the_layout() -> None:
    """The shipped tracker (glass not modelled by default): a layout declaring the front's
    loss predicts that much less power across the front, the same on its own side."""
    doc = shop((5.0, -0.2))
    plain = ParticleTracker(parse_layout(doc), seed=1)
    doc["radio"] = {"shopfront_loss_db": 3.0}
    glass = ParticleTracker(parse_layout(doc), seed=1)
    points = np.array([[5.0, 1.0], [5.0, -1.0], [3.0, -2.5]])  # floor, street, street
    drop = plain.radio.predicted_dbm(points, np.zeros(3)) - glass.radio.predicted_dbm(
        points, np.zeros(3)
    )
    assert np.allclose(drop, [[0.0, 3.0], [3.0, 0.0], [3.0, 0.0]], atol=1e-4)
