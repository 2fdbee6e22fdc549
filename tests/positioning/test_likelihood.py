"""The tracker's measurement model: the receiver floor in the RSSI likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from positioning.tracker.likelihood import LikelihoodParams, log_heard, log_likelihood


@pytest.mark.parametrize("nu", [4.0, 3.0, 7.5])
def test_log_heard_is_the_student_t_probability_of_reading_above_the_floor(nu: float) -> None:
    radio = LikelihoodParams(
        sigma_fast_db=4.0, sigma_slow_db=3.0, student_nu=nu
    )  # one reading: 5 dB
    mean = np.array([[[-110.0, -96.0, -80.0]]], np.float32)
    count = np.array([[1.0, 3.0, 0.0]], np.float32)  # the third is padding
    got = log_heard(mean, -96.0, count, radio)
    want = np.log(stats.t.sf((-96.0 - mean[0, 0, :2]) / 5.0, nu)).sum()
    assert got.shape == (1, 1)
    assert np.isclose(got[0, 0], want, rtol=1e-4)


def _one_beacon(mean_dbm: list[float], floor_dbm: float | None) -> np.ndarray:
    """(N,) log-likelihood of one reading of -93 dBm at particles predicting ``mean_dbm``."""
    loss = (-59.0 - np.array(mean_dbm, np.float32))[None, :, None]
    return log_likelihood(
        loss,
        np.full((1, 1), -59.0, np.float32),
        np.full((1, 1), -93.0, np.float32),
        np.ones((1, 1), np.float32),
        np.zeros(1, np.float32),
        np.full(1, 0.01, np.float32),  # offset known: 0
        LikelihoodParams(),
        floor_dbm,
    )[0]


def test_a_reading_near_the_floor_fits_particles_predicting_below_it() -> None:
    # Heard at -93 with the floor at -96: a particle predicting -105 could well give that
    # reading (only readings above -96 arrive); one predicting -80 could not.
    plain = _one_beacon([-93.0, -105.0, -80.0], None)
    floor = _one_beacon([-93.0, -105.0, -80.0], -96.0)
    assert floor[1] - floor[0] > plain[1] - plain[0] + 1.0
    assert np.isclose(floor[2] - floor[0], plain[2] - plain[0], atol=0.5)
    assert floor[0] > floor[2] and floor[1] > floor[2]


def test_a_floor_far_below_every_mean_changes_nothing() -> None:
    far = _one_beacon([-70.0, -93.0], -300.0)
    assert np.allclose(far, _one_beacon([-70.0, -93.0], None), atol=1e-4)


def test_unpriced_walls_are_profiled_like_the_device_offset() -> None:
    """A device behind two walls that do not attenuate, the model pricing them at 6 dB each:
    with the wall loss profiled (prior spread 3 dB) its true spot fits nearly as well as
    under the right model; without, far worse. No walls crossed: the plain likelihood."""
    d = np.array([3.0, 5.0, 7.0, 4.0, 6.0], np.float32)
    walls = np.array([1, 1, 0, 0, 0], np.float32)
    true_loss = (20.0 * np.log10(d))[None, None, :].astype(np.float32)
    priced = true_loss + 6.0 * walls
    args = (
        np.full((1, 5), -59.0, np.float32),
        (-59.0 - true_loss[0]).astype(np.float32),
        np.full((1, 5), 3.0, np.float32),
        np.zeros(1, np.float32),
        np.full(1, 6.0, np.float32),
    )
    radio = LikelihoodParams(wall_prior_sd_db=3.0)
    right = log_likelihood(true_loss, *args, radio)
    plain = log_likelihood(priced, *args, radio)
    profiled = log_likelihood(priced, *args, radio, None, walls[None, None, :], 6.0)
    assert plain < profiled <= right + 1e-4
    assert right - profiled < 1.0
    assert profiled - plain > 0.3  # half the 6 dB: two readings weigh as much as the prior
    none = np.zeros((1, 1, 5), np.float32)
    same = log_likelihood(priced, *args, radio, None, none, 6.0)
    np.testing.assert_allclose(same, plain, rtol=1e-5)
