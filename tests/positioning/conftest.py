"""Fixtures shared by the positioning tests."""

from __future__ import annotations

import pytest

from positioning.layout import Layout, parse_layout


@pytest.fixture
def two_zones() -> Layout:
    """A 20 x 10 m store split into two zones at x = 10 m, one beacon."""
    return parse_layout(
        {
            "store": {"name": "t", "width": 20.0, "height": 10.0},
            "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
            "zones": [
                {"name": "left", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]},
                {"name": "right", "polygon": [[10, 0], [20, 0], [20, 10], [10, 10]]},
            ],
        }
    )
