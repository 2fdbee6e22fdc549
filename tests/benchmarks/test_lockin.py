"""The lock-in check of benchmarks/lockin.py (issue 16 item 4) on a made-up run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.lockin import report, stretch_errors
from positioning.positions import PositionRows


def _run() -> tuple[pd.DataFrame, PositionRows]:
    """One device: still 600 s at (5, 5), a 20 s walk, still 900 s at (15, 5). The fixes are
    1 m off at the first spot throughout, and at the second drift from 0.5 m to 2 m away."""
    t = np.arange(0.0, 1520.0)
    walk = (t >= 600) & (t < 620)
    x = np.where(t < 600, 5.0, np.where(walk, 5.0 + (t - 600) / 2.0, 15.0))
    truth = pd.DataFrame({"t": t, "device_id": "p", "x": x, "y": 5.0})
    second = t >= 620
    off = np.where(second, 0.5 + 1.5 * (t - 620) / 900.0, 1.0)
    n = len(t)
    fixes = PositionRows(
        t, np.full(n, "p"), x + off, np.full(n, 5.0), np.full(n, ""), np.ones(n),
        np.full(n, 5, np.int64), np.ones(n, bool), np.zeros(n, bool),
    )  # fmt: skip
    return truth, fixes


def test_each_stationary_stretch_is_found_and_its_growth_measured() -> None:
    truth, fixes = _run()
    first, second = stretch_errors(truth, fixes)
    assert (first.x_m, second.x_m) == (5.0, 15.0)
    assert abs(first.grows_m) < 1e-9 and abs(first.slope_m_per_10min) < 1e-9
    assert 0.9 < second.grows_m < 1.1  # 0.75 m -> 1.75 m, the thirds' medians
    assert abs(second.slope_m_per_10min - 1.0) < 0.01  # 1.5 m over 15 min


def test_the_report_says_whether_the_last_stretch_is_within_the_first_plus_tolerance() -> None:
    truth, fixes = _run()
    text = report("made-up", "tracker", stretch_errors(truth, fixes))
    assert "last stretch 1.25 m vs first 1.00 m (+0.3 allowed): holds" in text
    fixes.x_m[truth.t.to_numpy() >= 620] += 1.0
    text = report("made-up", "tracker", stretch_errors(truth, fixes))
    assert "FAILS" in text
