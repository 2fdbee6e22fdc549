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

#: Float tolerance: the recording was made on the same kind of machine; a change of
#: behaviour moves fixes by centimetres at least, a BLAS reordering by ~1e-12.
RTOL, ATOL = 1e-7, 1e-7


@pytest.mark.slow
def test_tracker_output_is_the_recorded_one() -> None:
    layout = load_layout(golden.STORE)
    recorded = np.load(golden.DATA)
    ids, out = golden.run(layout, golden.golden_input(layout))
    assert ids.tolist() == recorded["out_device_id"].tolist()
    for k, name in enumerate(golden.COLUMNS):
        np.testing.assert_allclose(
            out[:, k], recorded["out"][:, k], rtol=RTOL, atol=ATOL, err_msg=f"column {name}"
        )
