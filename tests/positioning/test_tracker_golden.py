"""The tracker's output on a recorded small run is the recorded one (see tracker_golden.py).

Speed work on the tracker must not move a fix: positions, sigma_m, p_inside, p_zone and
the spread are compared to within float tolerance. A failure after an intended change of
behaviour: rewrite the recording (``python tests/positioning/tracker_golden.py --write``).
"""

from __future__ import annotations

import numpy as np
import pytest
import tracker_golden as golden

from positioning.layout import load_layout

#: Float tolerance: a change of behaviour moves fixes by centimetres at least; another numpy
#: release (its float32 SIMD exp/log) moved them by up to 1.1e-5 m (numpy 2.4.6 against the
#: recording's), so 1 mm separates the two.
RTOL, ATOL = 1e-5, 1e-3
#: p_inside and p_zone count particles: one of the 128 on a zone's edge moved by 1e-5 m moves
#: them by 1/128, so they get two particles' worth.
COUNT_ATOL = 2 / 128


@pytest.mark.slow
def test_tracker_output_is_the_recorded_one() -> None:
    layout = load_layout(golden.STORE)
    recorded = np.load(golden.DATA)
    ids, out = golden.run(layout, golden.golden_input(layout))
    assert ids.tolist() == recorded["out_device_id"].tolist()
    for k, name in enumerate(golden.COLUMNS):
        np.testing.assert_allclose(
            out[:, k],
            recorded["out"][:, k],
            rtol=RTOL,
            atol=COUNT_ATOL if name in ("p_inside", "p_zone") else ATOL,
            err_msg=f"column {name}",
        )
