"""p_zone as the tracker reports it: the cloud as it is mixed with the cloud widened to the
honest sigma_m (issue 16, session 27)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from positioning.layout import Layout
from positioning.registry import make_locator
from positioning.tracker.zone_posterior import ZonePosterior

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tracker_golden as golden  # noqa: E402


def test_the_mixture_weighs_the_cloud_as_it_is_against_the_widened_one(two_zones: Layout) -> None:
    # a tight cloud 1 m left of the zone edge: all in "left" as it is; widened 3x, the
    # particles 0.6 m from the fix land 1.8 m away, over the edge
    pos = np.array([[[9.0, 5.0], [9.6, 5.0], [8.4, 5.0], [9.0, 5.6]]], dtype=np.float32)
    w = np.full((1, 4), 0.25, dtype=np.float32)
    fix = np.array([[9.0, 5.0]])
    zones = ZonePosterior(two_zones)
    grow = np.array([3.0])
    as_is = zones.honest_p_zone(pos, w, fix, grow, 1.0)
    widened = zones.honest_p_zone(pos, w, fix, grow, 0.0)
    assert as_is == pytest.approx([1.0])
    assert widened == pytest.approx([0.75])  # (10.8, 5) is in "right"
    assert zones.honest_p_zone(pos, w, fix, grow, 0.5) == pytest.approx([0.875])
    # not widened, the weight does not matter
    assert zones.honest_p_zone(pos, w, fix, np.ones(1), 0.5) == pytest.approx([1.0])
    assert len(zones.honest_p_zone(pos[:0], w[:0], fix[:0], grow[:0], 0.5)) == 0


@pytest.mark.slow
def test_only_p_zone_moves_with_the_weight() -> None:
    layout = golden.load_layout(golden.STORE)
    batch = golden.golden_input(layout)
    first = batch.take(batch.t_s < batch.t_s[0] + 90.0)
    fixes = {}
    for weight in (0.0, 0.5, 1.0):
        loc = make_locator("tracker", layout, seed=0, zone_p_model_weight=weight)
        loc.observe(first)
        fixes[weight] = loc.estimate(float(first.t_s[-1]))
    a, mid, b = fixes[0.0], fixes[0.5], fixes[1.0]
    assert len(a) > 5
    for f in (mid, b):
        assert f.device_id.tolist() == a.device_id.tolist()
        for name in ("xy_m", "sigma_m", "p_inside", "spread_m"):
            np.testing.assert_array_equal(getattr(f, name), getattr(a, name), err_msg=name)
    assert a.p_zone is not None and mid.p_zone is not None and b.p_zone is not None
    np.testing.assert_allclose(mid.p_zone, 0.5 * (a.p_zone + b.p_zone), atol=1e-12)
    # the cloud as it is trusts the radio model: surer than the widened cloud
    assert b.p_zone.mean() > a.p_zone.mean() + 0.05
