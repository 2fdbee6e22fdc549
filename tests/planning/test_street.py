"""The `street` mounting rule: radios facing the street, and what the plan's model says of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planning.mounting import STREET_OUT_M, candidates
from planning.plan import make_plan
from planning.radio import PlanRadio
from positioning.layout import load_layout


def test_street_candidates_hang_outside_the_glass_in_the_street_band(fashion_path: Path) -> None:
    layout = load_layout(fashion_path)
    street = candidates(layout, ("street",), 2.7, layout.beacon_xy)
    xy = np.array([[c.x_m, c.y_m] for c in street])
    assert len(street) > 3 and {c.rule for c in street} == {"street"}
    assert layout.in_street_band(xy).all()
    assert xy[:, 1] == pytest.approx(-STREET_OUT_M)
    # the door frame's outside: both jambs and the middle of the entrance (13..17 m)
    assert {13.0, 15.0, 17.0} <= {c.x_m for c in street if c.z_m == pytest.approx(2.2)}


def test_the_plan_puts_the_glass_on_the_path_from_a_street_radio(fashion_path: Path) -> None:
    """The shop front costs a street radio on the floor, and an inside radio in the street."""
    layout = load_layout(fashion_path)
    radio = PlanRadio.for_layout(layout)
    no_glass = dataclasses.replace(
        radio, params=dataclasses.replace(radio.params, shopfront_loss_db=0.0)
    )
    radios = np.array([[15.0, 1.0, 2.2], [15.0, -1.0, 2.2]])  # inside, facing the street
    points = np.array([[15.0, 2.0], [15.0, -2.0]])  # on the floor, in the street
    args = (layout, points, radios, np.array([-59.0, -59.0]), np.array([False, True]))
    lost = no_glass.mean_rssi_dbm(*args) - radio.mean_rssi_dbm(*args)  # (points, radios)
    glass = radio.params.shopfront_loss_db
    assert glass > 0
    np.testing.assert_allclose(lost, [[0.0, glass], [glass, 0.0]])


def test_a_street_radio_buys_the_door_and_the_proposal_loads(
    fashion_path: Path, tmp_path: Path
) -> None:
    without = make_plan(fashion_path, 1, rules=("door",))
    with_street = make_plan(fashion_path, 1, rules=("door", "street"))
    assert with_street.steps[0].candidate.rule == "street"
    assert with_street.after.door_decision_s < 0.5 * without.after.door_decision_s
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(with_street.proposal, encoding="utf-8")
    layout = load_layout(proposed)
    assert layout.in_street_band(layout.beacon_xy).sum() == 1
