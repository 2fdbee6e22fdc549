"""One RSSI rule: the scalar and array forms agree, at the edges and on any float."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from beacons.validity import RSSI_MAX_DBM, RSSI_MIN_DBM, rssi_is_valid, rssi_ok

EDGES = [RSSI_MIN_DBM, RSSI_MIN_DBM - 1e-9, -60.0, -1e-9, -0.0, RSSI_MAX_DBM, 5.0]


def test_edges() -> None:
    assert [rssi_ok(x) for x in EDGES] == [True, False, True, True, False, False, False]
    assert not any(rssi_ok(x) for x in (math.nan, math.inf, -math.inf))


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_array_form_is_the_scalar_rule(values: list[float]) -> None:
    assert rssi_is_valid(np.array(values, dtype=np.float64)).tolist() == [
        rssi_ok(v) for v in values
    ]
