"""The reliability table: predicted probability against observed frequency, and its gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.accuracy import calibration_gap, reliability_table
from benchmarks.scenes import reliability
from positioning.layout import parse_layout


def test_a_fix_in_the_wrong_zone_counts_against_its_probability() -> None:
    layout = parse_layout(
        {
            "store": {"name": "t", "width": 20.0, "height": 10.0},
            "beacons": [{"id": "a", "x": 1.0, "y": 1.0, "tx_power": -59}],
            "zones": [
                {"name": "left", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]},
                {"name": "right", "polygon": [[10, 0], [20, 0], [20, 10], [10, 10]]},
            ],
        }
    )
    # the device walks from (2, 5) to (8, 5) in "left" over 0-60 s
    truth = pd.DataFrame(
        {"t": [0.0, 60.0], "device_id": ["d", "d"], "x": [2.0, 8.0], "y": [5.0] * 2}
    )
    t = np.arange(0.0, 60.0, 1.0)
    right = t >= 45.0  # the last 15 fixes in "right": wrong
    xy = np.column_stack([np.where(right, 12.0, 2.0 + t / 10.0), np.full(len(t), 5.0)])
    p = np.where(right, 0.6, 0.95)
    late = np.r_[t, 70.0]  # a fix after the truth's span is not scored
    rows = reliability(
        layout, truth, late, np.array(["d"] * 61), np.r_[xy, [[3.0, 5.0]]], np.r_[p, 1.0], "zone"
    )
    assert rows == [(0.5, pytest.approx(0.6), 0.0, 15), (0.95, pytest.approx(0.95), 1.0, 45)]
    assert calibration_gap(rows) == pytest.approx((15 * 0.6 + 45 * 0.05) / 60)
    inside = reliability(layout, truth, t, np.array(["d"] * 60), xy, np.full(60, 0.99), "inside")
    assert inside == [(0.99, pytest.approx(0.99), 1.0, 60)]
    assert "gap" in reliability_table({"s": {"zone": rows}})
