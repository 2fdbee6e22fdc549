from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from positioning.errors import LayoutError
from positioning.layout import load_layout, parse_layout
from positioning.walkable import WalkableGrid

STORES = Path(__file__).resolve().parents[2] / "examples" / "stores"


def minimal(**over: object) -> dict:
    doc: dict = {
        "store": {"name": "t", "width": 10.0, "height": 8.0, "entrance": [[4.0, 0.0], [6.0, 0.0]]},
        "beacons": [
            {"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59},
            {"id": "b", "x": 9.0, "y": 7.0, "tx_power": -59},
        ],
        "zones": [{"name": "z", "polygon": [[0, 0], [5, 0], [5, 4], [0, 4]]}],
        "obstacles": [{"kind": "shelf", "polygon": [[6, 4], [8, 4], [8, 5], [6, 5]]}],
    }
    doc.update(over)
    return doc


@pytest.mark.parametrize("name", ["fashion", "showroom", "supermarket"])
def test_reference_stores_load(name: str) -> None:
    layout = load_layout(STORES / f"{name}.toml")
    assert all(isinstance(b, str) for b in layout.beacon_ids)
    assert layout.contains(layout.beacon_xy).all()
    assert len(set(layout.beacon_ids)) == len(layout.beacons)


def test_fashion_matches_the_brief() -> None:
    layout = load_layout(STORES / "fashion.toml")
    assert 12 <= len(layout.beacons) <= 16
    assert 8 <= len(layout.zones) <= 10
    assert {"checkout", "fitting_rooms", "entrance"} <= {z.name for z in layout.zones}


def test_numeric_looking_ids_stay_strings() -> None:
    layout = load_layout(STORES / "supermarket.toml")
    assert layout.beacon_ids[0] == "1001"
    doc = minimal(beacons=[{"id": 7, "x": 1.0, "y": 1.0, "tx_power": -59}])
    assert parse_layout(doc).beacon_ids == ("7",)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"store": {"name": "t", "width": 10.0}}, "store.height"),
        ({"beacons": [{"id": "a", "x": 1.0, "y": 1.0}]}, "beacons[0].tx_power"),
        ({"beacons": [{"id": "a", "x": 11.0, "y": 1.0, "tx_power": -59}]}, "beacons[0]"),
        (
            {
                "beacons": [
                    {"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59},
                    {"id": "a", "x": 2.0, "y": 1.0, "tx_power": -59},
                ]
            },
            "beacons[1].id",
        ),
        (
            {"zones": [{"name": "z", "polygon": [[0, 0], [4, 4], [4, 0], [0, 4]]}]},
            "zones[0].polygon",
        ),
        (
            {"zones": [{"name": "z", "polygon": [[0, 0], [12, 0], [12, 4], [0, 4]]}]},
            "zones[0].polygon",
        ),
        (
            {"obstacles": [{"kind": "sofa", "polygon": [[1, 1], [2, 1], [2, 2]]}]},
            "obstacles[0].kind",
        ),
        ({"radio": {"path_loss_exponent": 9}}, "radio.path_loss_exponent"),
    ],
)
def test_bad_layouts_name_the_key(change: dict, key: str) -> None:
    with pytest.raises(LayoutError) as info:
        parse_layout(minimal(**change), source="bad.toml")
    assert info.value.key == key
    assert str(info.value).startswith("bad.toml: " + key)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[store\nname=1")
    with pytest.raises(LayoutError, match="broken.toml"):
        load_layout(path)


def test_zone_lookup_and_walkable_grid() -> None:
    layout = parse_layout(minimal())
    assert layout.zone_of([[1, 1], [9, 7]]).tolist() == [0, -1]
    grid = WalkableGrid.from_layout(layout, resolution_m=0.25, clearance_m=0.25)
    assert not grid.is_free([[7.0, 4.5]])[0]  # inside the shelf
    assert grid.is_free([[2.0, 2.0]])[0]
    moved = grid.nearest_free([[7.0, 4.5]])
    assert grid.is_free(moved)[0]
    assert np.hypot(*(moved[0] - [7.0, 4.5])) < 1.5


def test_street_reaches_the_store_only_through_the_entrance() -> None:
    from scipy import ndimage

    layout = load_layout(STORES / "fashion.toml")
    grid = WalkableGrid.from_layout(layout, street_depth_m=4.0)
    assert grid.is_free([[15.0, -2.0], [5.0, -2.0], [15.0, 0.0]]).all()  # street and doorway
    assert not grid.is_free([[5.0, 0.0], [12.5, 0.0]]).any()  # the shop front is a wall
    labels, n = ndimage.label(grid.free)
    assert n == 1  # every walkable cell, street included, is reachable from every other
