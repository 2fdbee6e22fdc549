"""The shop front in the simulator is crossed per radio path, whichever side the radio is on."""

from __future__ import annotations

import dataclasses

import numpy as np

from positioning.layout import parse_layout
from sim.fields import LossMaps
from sim.params import RadioParams

#: Only the glass: no shadowing, no obstacle losses.
GLASS_ONLY = dataclasses.replace(RadioParams(), shadowing_sigma_db=0.0, shopfront_loss_db=3.0)


def test_the_glass_costs_when_phone_and_radio_are_on_different_sides() -> None:
    layout = parse_layout(
        {
            "store": {"name": "t", "width": 10.0, "height": 8.0, "entrance": [[4, 0], [6, 0]]},
            "beacons": [
                {"id": "inside", "x": 5.0, "y": 4.0, "tx_power": -59},
                {"id": "street", "x": 5.0, "y": -0.2, "tx_power": -59},
            ],
        }
    )
    maps = LossMaps.build(layout, GLASS_ONLY, (-1.0, -4.0, 11.0, 9.0), np.random.default_rng(1))
    # phones 1 m inside, 1 m and 3 m out in the street, deep inside
    x = np.array([5.0, 5.0, 2.0, 8.0])
    y = np.array([1.0, -1.0, -3.0, 6.0])
    loss = maps.sample(np.tile(x, (2, 1)), np.tile(y, (2, 1)))
    np.testing.assert_allclose(loss[0], [0.0, 3.0, 3.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(loss[1], [3.0, 0.0, 0.0, 3.0], atol=1e-5)
