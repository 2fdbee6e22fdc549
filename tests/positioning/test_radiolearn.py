"""The crowd-learned radio map recovers a known shadowing bump and stays at 0 without data."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from positioning.tracker.radiolearn import N_TERMS, RadioLearnParams, RadioMapLearner

NX, NY, RES_M, BEACONS = 80, 48, 0.25, 8
BUMP_XY_M, BUMP_DB, BUMP_SIGMA_M = (7.0, 6.0), 5.0, 2.5
EXPONENT_TERM = 20.0  # 10 n with n = 2


def bump_db(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    d2 = ((xy - np.asarray(BUMP_XY_M)) ** 2).sum(axis=1)
    return BUMP_DB * np.exp(-0.5 * d2 / BUMP_SIGMA_M**2)


def cell_of(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    ix = np.clip((xy[:, 0] / RES_M).astype(np.int64), 0, NX - 1)
    iy = np.clip((xy[:, 1] / RES_M).astype(np.int64), 0, NY - 1)
    return iy * NX + ix


def feed(learner: RadioMapLearner, fixes: int, seed: int) -> None:
    """Fixes spread over the floor; beacon 0 reads ``bump_db`` more than the model, every
    beacon has 3 dB of noise and a common device offset; the log-distance term is kept
    apart and weighs in only with the refit's coefficients."""
    rng = np.random.default_rng(seed)
    for epoch in range(fixes // 50):
        xy = rng.uniform((0.0, 0.0), (NX * RES_M, NY * RES_M), (50, 2))
        log10_d = rng.uniform(0.0, 1.2, (50, BEACONS))
        rssi_excess = rng.normal(0.0, 3.0, (50, BEACONS)) + rng.normal(0.0, 4.0, (50, 1))
        rssi_excess[:, 0] += bump_db(xy)
        rssi_excess -= EXPONENT_TERM * log10_d  # what the model with n = 2 predicts
        terms = np.stack([rssi_excess, log10_d, np.zeros_like(log10_d)])
        learner.add(
            float(epoch),
            cell_of(xy),
            terms,
            np.ones((50, BEACONS), bool),
            np.ones(50),
            np.array([1.0, EXPONENT_TERM, 3.0]),
        )


def correction_at(learner: RadioMapLearner, xy: tuple[float, float]) -> npt.NDArray[np.float32]:
    assert learner.correction_db is not None
    return learner.correction_db[cell_of(np.asarray([xy]))[0]]


def test_learner_recovers_a_bump_on_one_beacon() -> None:
    learner = RadioMapLearner(BEACONS, NX, NY, RES_M, RadioLearnParams(refit_every_s=1.0))
    feed(learner, 40_000, seed=1)
    at_bump = correction_at(learner, BUMP_XY_M)
    far = correction_at(learner, (17.0, 10.0))
    # ~1.9 dB expected: the kernel keeps 0.74 of a 2.5 m bump's peak, the prior 0.85, the
    # epoch de-meaning 7/8 (leaking 1/8 into the other beacons), and the beacon's mean
    # over the floor (0.8 dB) goes to its offset
    assert at_bump[0] > 0.3 * BUMP_DB
    assert np.all(np.abs(at_bump[1:]) < 0.5)
    assert np.all(np.abs(far) < 1.0)
    assert learner.correction_db is not None
    assert np.abs(learner.correction_db).max() <= learner.params.max_correction_db + 1e-6


def test_learner_stays_near_zero_with_little_data() -> None:
    learner = RadioMapLearner(BEACONS, NX, NY, RES_M, RadioLearnParams(refit_every_s=1.0))
    feed(learner, 100, seed=2)
    assert learner.correction_db is not None
    assert np.abs(learner.correction_db).max() < 0.6 * BUMP_DB
    assert np.abs(correction_at(learner, BUMP_XY_M)[0]) < 0.5 * BUMP_DB


def test_learner_has_no_correction_before_its_first_refit() -> None:
    learner = RadioMapLearner(BEACONS, NX, NY, RES_M, RadioLearnParams())
    terms = np.zeros((N_TERMS, 1, BEACONS))
    learner.add(0.0, np.zeros(1, np.int64), terms, np.ones((1, BEACONS), bool), np.ones(1), None)
    assert learner.correction_db is None
    assert learner.version == 0


def test_learner_ignores_and_leaves_at_zero_the_cells_outside_its_mask() -> None:
    cells = np.zeros(NX * NY, bool)
    cells[: NX * NY // 2] = True  # the lower half (y < 6 m) only
    learner = RadioMapLearner(
        BEACONS, NX, NY, RES_M, RadioLearnParams(refit_every_s=1.0), cells=cells
    )
    feed(learner, 40_000, seed=3)
    assert learner.correction_db is not None
    assert np.all(learner.correction_db[~cells] == 0.0)
    assert correction_at(learner, (7.0, 5.0))[0] > 0.2 * BUMP_DB
