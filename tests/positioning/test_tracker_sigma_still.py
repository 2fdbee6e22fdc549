"""Issue 16 phase 4: sigma_m keeps the model-free fix's persistent disagreement over a still
stretch (positioning/tracker/uncertainty.py); noise alone averages away, and the fix itself
never changes."""

from __future__ import annotations

import numpy as np
from locators_synth import observe_path, small_store

from beacons.observation import ObservationBatch
from positioning.registry import make_locator
from positioning.tracker.uncertainty import StillDisagreement


def test_a_persistent_disagreement_stays_and_noise_averages_away() -> None:
    rng = np.random.default_rng(0)
    still = StillDisagreement()
    slots = np.array([0, 1])
    keep = np.zeros(2, dtype=bool)
    for i in range(400):
        noise = rng.normal(0.0, 1.5 / np.sqrt(2), (2, 2))
        vec = noise + np.array([[3.0, 4.0], [0.0, 0.0]])
        out = still.update(slots, vec, keep | (i == 0), noise_m=1.5)
    assert abs(out[0] - 5.0) < 0.3
    assert out[1] < 0.3


def test_one_noisy_epoch_is_no_evidence_and_a_restart_forgets() -> None:
    still = StillDisagreement()
    slot = np.array([5])
    first = still.update(slot, np.array([[1.0, 1.0]]), np.array([True]), noise_m=1.5)
    assert first[0] == 0.0  # |v| = 1.41 m is within one epoch's noise
    for _ in range(99):
        out = still.update(slot, np.array([[3.0, 0.0]]), np.array([False]), noise_m=1.5)
    assert 2.8 < out[0] < 3.0
    again = still.update(slot, np.array([[0.0, 0.0]]), np.array([True]), noise_m=1.5)
    assert again[0] == 0.0


def _standing(static_sd_db: float, still_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixes and sigma_m of a phone standing 5 min at one spot; each beacon carries one static
    shadowing draw of ``static_sd_db`` (the same rows for both settings of ``still_scale``)."""
    layout = small_store()
    rng = np.random.default_rng(11)
    t = np.array([0.0, 300.0])
    xy = np.array([[3.0, 8.0], [3.0, 8.0]])
    batch = observe_path(layout, "a", t, xy, rng, sigma_db=4.0)
    static = rng.normal(0.0, static_sd_db, len(layout.beacons))
    index = {b.id: i for i, b in enumerate(layout.beacons)}
    shift = static[[index[b] for b in batch.beacon_id]]
    batch = ObservationBatch.from_arrays(
        batch.t_s, batch.device_id, batch.beacon_id, batch.rssi_dbm + shift
    )
    loc = make_locator("tracker", layout, seed=3, sigma_still_scale=still_scale)
    fixes, sigmas = [], []
    for ts in np.arange(1.0, 300.0, 1.0):
        loc.observe(batch.take((batch.t_s > ts - 1.0) & (batch.t_s <= ts)))
        fix = loc.estimate(float(ts))
        fixes.append(fix.xy_m[0])
        sigmas.append(fix.sigma_m[0])
    return np.array(fixes), np.array(sigmas)


def test_only_sigma_changes_and_it_widens_only() -> None:
    """The still term is sqrt(sigma_on^2 - sigma_off^2), the fixes are the same. A static
    shadowing draw pulls the centroid heard and the fix alike (it is of the model's form), so
    this term does not see it; what it sees is the fix parting from the model-free fix for
    minutes. Without a draw, the fast noise averages away over the still stretch: the term
    ends below one epoch's centroid noise (1.5 m)."""
    for sd in (0.0, 8.0):
        xy_off, s_off = _standing(sd, 0.0)
        xy_on, s_on = _standing(sd, 1.0)
        np.testing.assert_array_equal(xy_off, xy_on)
        assert np.all(s_on >= s_off - 1e-9) and np.any(s_on > s_off + 0.1)
        term = np.sqrt(np.maximum(s_on**2 - s_off**2, 0.0))[-120:]
        assert np.median(term) < 1.0
