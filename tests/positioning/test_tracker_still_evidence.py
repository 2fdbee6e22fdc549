"""A still device's epochs share one shadowing draw (issue 16 phase 4): with
``still_evidence_s`` its evidence grows as log t, so its cloud does not collapse on the
mode of a biased likelihood the longer it stands."""

from __future__ import annotations

import numpy as np
from locators_synth import observe_path, small_store

from positioning.tracker.filter import ParticleTracker


def _spread_after(still_evidence_s: float, seconds: float = 360.0) -> float:
    """The particles' 1-sigma radius of a phone left at one spot for ``seconds``."""
    layout = small_store()
    rng = np.random.default_rng(9)
    t = np.arange(0.0, seconds, 0.25)
    batch = observe_path(layout, "still", t, np.tile([6.0, 8.0], (len(t), 1)), rng)
    tracker = ParticleTracker(layout, seed=0, still_evidence_s=still_evidence_s)
    fix = None
    for s in np.arange(1.0, seconds, 1.0):
        tracker.observe(batch.take(np.flatnonzero((batch.t_s > s - 1.0) & (batch.t_s <= s))))
        fix = tracker.estimate(float(s))
    assert fix is not None and fix.spread_m is not None
    return float(fix.spread_m[0])


def test_a_still_device_keeps_a_wider_cloud_with_bounded_evidence() -> None:
    assert _spread_after(30.0) > 1.3 * _spread_after(0.0)
