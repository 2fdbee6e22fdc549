"""The plan's figures: information adds up, more radios never hurt, the door needs contrast."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planning.assess import DECISION_NATS, assess
from planning.floor import floor_of
from planning.information import Information, Radios, information_of
from planning.radio import PlanRadio
from positioning.crb import position_crb_m
from positioning.layout import load_layout, parse_layout


def _square(beacons: list[tuple[float, float]], entrance: bool = True) -> dict:
    doc: dict = {
        "store": {"name": "t", "width": 10.0, "height": 10.0},
        "beacons": [
            {"id": f"b{i}", "x": x, "y": y, "tx_power": -59} for i, (x, y) in enumerate(beacons)
        ],
        "zones": [
            {"name": "front", "polygon": [[0, 0], [10, 0], [10, 5], [0, 5]]},
            {"name": "back", "polygon": [[0, 5], [10, 5], [10, 10], [0, 10]]},
        ],
    }
    if entrance:
        doc["store"]["entrance"] = [[4.0, 0.0], [6.0, 0.0]]
    return doc


def _figures(doc: dict):
    layout = parse_layout(doc)
    radio = PlanRadio.for_layout(layout)
    floor = floor_of(layout)
    info = information_of(layout, floor, radio, Radios.of_layout(layout, radio))
    return layout, floor, radio, info, assess(info.total(), floor, radio, ["front", "back"])


def test_an_added_beacon_never_raises_the_bound_and_lowers_it_near_itself() -> None:
    corners = [(1.0, 1.0), (9.0, 1.0), (1.0, 9.0), (9.0, 9.0)]
    _, floor, _, _, four = _figures(_square(corners))
    _, _, _, _, five = _figures(_square([*corners, (5.0, 5.0)]))
    assert np.all(five.bound_m <= four.bound_m + 1e-9)
    near = np.hypot(*(floor.points_xy - [5.0, 5.0]).T) < 2.0
    assert five.bound_m[near].mean() < 0.9 * four.bound_m[near].mean()
    assert five.mean_confusion < four.mean_confusion


def test_bound_agrees_with_positioning_crb_for_the_same_noise() -> None:
    """With one noise level for every beacon and no offset prior, the Fisher sums give
    positioning.crb's bound with the offset unknown."""
    layout, floor, radio, _, _ = _figures(
        _square([(1.0, 1.0), (9.0, 1.0), (1.0, 9.0), (9.0, 9.0)], entrance=False)
    )
    params = dataclasses.replace(radio.params, device_offset_sigma_db=1e6, min_distance_m=1e-6)
    flat = dataclasses.replace(radio, params=params, fade_sigma_db=0.0, body_sigma_db=0.0)
    info = information_of(layout, floor, flat, Radios.of_layout(layout, flat))
    mine = assess(info.total(), floor, flat, ["front", "back"]).bound_m
    sigma = float(flat.fix_sigma_db(np.array([1.0]))[0])
    theirs = position_crb_m(
        floor.points_xy, layout.beacon_xy, flat.exponent, sigma,
        height_offset_m=flat.height_offset_m(np.full(4, params.beacon_height_m)), unknown_offset=True,
    )  # fmt: skip
    informed = theirs < 20.0  # both cap where the geometry gives nothing (at different caps)
    assert informed.mean() > 0.9
    np.testing.assert_allclose(mine[informed], theirs[informed], rtol=1e-6)


def test_information_adds_over_radios() -> None:
    layout, floor, radio, info, whole = _figures(_square([(1.0, 1.0), (9.0, 1.0), (5.0, 9.0)]))
    parts = info.pick(0).plus(info.pick(1)).plus(info.pick(2))
    again = assess(parts, floor, radio, ["front", "back"])
    np.testing.assert_allclose(again.bound_m, whole.bound_m)
    assert again.door_rate_nats_s == pytest.approx(whole.door_rate_nats_s)


def test_a_common_shift_is_no_evidence() -> None:
    """The glass lowers every radio alike: with the phone's gain unknown that is no evidence."""
    shape = (2, 3, 1, 4, 5)  # radios, sums, lines, depths, street points
    w = np.ones((2, 1, 4, 5))
    delta = 3.0
    door = np.stack([w, w * delta, w * delta**2], axis=1)
    info = Information(np.ones((2, 1, 6)), door.reshape(shape))
    layout = parse_layout(_square([(1.0, 1.0)]))
    rate = assess.__globals__["_door_rate"](info.total().door[0])
    assert np.allclose(rate, 0.0)
    assert layout.entrance is not None


def test_a_beacon_just_behind_the_door_makes_the_door_faster() -> None:
    far = [(1.0, 9.0), (9.0, 9.0), (5.0, 9.5)]
    _, _, _, _, without = _figures(_square(far))
    doc = _square(far)
    doc["beacons"].append({"id": "door", "x": 5.0, "y": 1.5, "z": 2.7, "tx_power": -59})
    _, _, _, _, with_door = _figures(doc)
    assert with_door.door_rate_nats_s > 2 * without.door_rate_nats_s
    assert with_door.door_decision_s < without.door_decision_s
    assert with_door.enter_latency_s <= without.enter_latency_s
    assert with_door.door_decision_s == pytest.approx(DECISION_NATS / with_door.door_rate_nats_s)


def test_a_beacon_on_the_door_line_cannot_tell_in_from_out() -> None:
    """Equally far from 1 m inside and 1 m outside; the glass alone is a common shift."""
    doc = _square([(1.0, 9.0), (9.0, 9.0), (5.0, 9.5)])
    doc["beacons"].append({"id": "door", "x": 5.0, "y": 0.1, "z": 1.2, "tx_power": -59})
    _, _, _, _, on_line = _figures(doc)
    doc["beacons"][-1]["y"] = 1.5
    _, _, _, _, behind = _figures(doc)
    assert behind.door_rate_nats_s > 10 * on_line.door_rate_nats_s


def test_reference_store_figures_are_in_a_plausible_range(fashion_path: Path) -> None:
    layout = load_layout(fashion_path)
    radio = PlanRadio.for_layout(layout)
    floor = floor_of(layout)
    a = assess(information_of(layout, floor, radio, Radios.of_layout(layout, radio)).total(), floor, radio,
               [z.name for z in layout.zones])  # fmt: skip
    # 15 ceiling beacons 7 m apart, 4 dB shadowing: metres, not centimetres or tens of metres
    assert 1.0 < a.bound_median_m < 5.0
    assert set(a.zone_confusion) == {z.name for z in layout.zones}
    assert 0.0 < a.mean_confusion < 1.0
    assert a.door_decision_s > a.enter_latency_s  # walking in, the evidence grows
