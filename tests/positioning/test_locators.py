"""Baseline locators (interface B) on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from locators_synth import merge, observe_path, small_store, straight_walk, truth_at

from beacons.observation import ObservationBatch
from positioning.baselines import weighted_centroid
from positioning.errors import PositioningError
from positioning.locator import PositionFix
from positioning.registry import (
    LOCATOR_NAMES,
    CentroidConfig,
    TrackerConfig,
    build_locator,
    locator_config,
    make_locator,
)


def _standing(xy: tuple[float, float], sigma_db: float, seed: int = 0) -> ObservationBatch:
    layout = small_store()
    t = np.array([0.0, 20.0])
    path = np.array([xy, xy], dtype=float)
    return observe_path(layout, "dev", t, path, np.random.default_rng(seed), sigma_db=sigma_db)


def test_wls_finds_a_standing_device_exactly_without_noise() -> None:
    loc = make_locator("wls", small_store())
    loc.observe(_standing((4.0, 8.0), sigma_db=0.0))
    fix = loc.estimate(10.0)
    assert fix.device_id.tolist() == ["dev"]
    assert np.linalg.norm(fix.xy_m[0] - [4.0, 8.0]) < 0.05
    assert fix.n_beacons.tolist() == [9]


def test_nearest_picks_the_closest_beacon() -> None:
    loc = make_locator("nearest", small_store())
    loc.observe(_standing((18.5, 10.0), sigma_db=0.0))
    assert loc.estimate(10.0).xy_m[0].tolist() == [19.0, 11.0]


def test_centroid_lies_among_the_strongest_beacons() -> None:
    rssi = np.array([[-60.0, -60.0, np.nan, -90.0]])
    xy, _ = weighted_centroid(
        rssi, np.full(4, -59.0), np.array([[0, 0], [4, 0], [0, 4], [40, 40]], float), 2.0, top_k=2
    )
    assert np.allclose(xy, [[2.0, 0.0]])


@pytest.mark.parametrize("name", ["nearest", "centroid", "wls"])
def test_chunking_does_not_change_estimates(name: str) -> None:
    layout = small_store()
    t, xy = straight_walk((2, 2), (18, 10))
    batch = observe_path(layout, "w", t, xy, np.random.default_rng(1))
    times = np.arange(1.0, t[-1], 1.0)

    def run(chunks: int) -> list[PositionFix]:
        loc = make_locator(name, layout)
        out = []
        for ts in times:
            due = batch.take((batch.t_s > ts - 1.0) & (batch.t_s <= ts))
            for part in np.array_split(np.arange(len(due)), chunks):
                loc.observe(due.take(part))
            out.append(loc.estimate(float(ts)))
        return out

    for a, b in zip(run(1), run(4), strict=True):
        assert np.array_equal(a.xy_m, b.xy_m) and np.array_equal(a.device_id, b.device_id)


def test_window_drops_devices_not_heard_and_forget_drops_state() -> None:
    layout = small_store()
    rng = np.random.default_rng(2)
    a = observe_path(layout, "a", np.array([0.0, 5.0]), np.array([[3.0, 3.0]] * 2), rng)
    b = observe_path(layout, "b", np.array([0.0, 20.0]), np.array([[15.0, 9.0]] * 2), rng)
    loc = make_locator("centroid", layout, window_s=2.0)
    loc.observe(merge(a, b).take(merge(a, b).t_s <= 10.0))
    assert loc.estimate(4.0).device_id.tolist() == ["a", "b"]
    assert loc.estimate(10.0).device_id.tolist() == ["b"]
    loc.forget(["b"])
    assert len(loc.estimate(10.0)) == 0


def test_baselines_track_a_noisy_walk_roughly() -> None:
    layout = small_store()
    t, xy = straight_walk((2, 2), (18, 10))
    batch = observe_path(layout, "w", t, xy, np.random.default_rng(3), sigma_db=4.0)
    for name in ("centroid", "wls"):
        loc = make_locator(name, layout)
        loc.observe(batch)
        errs = []
        for ts in np.arange(2.0, t[-1], 1.0):
            fix = loc.estimate(float(ts))
            errs.append(np.linalg.norm(fix.xy_m[0] - truth_at(t, xy, ts)))
        assert np.median(errs) < 2.5, name


def test_make_locator_rejects_unknown_names_and_parameters() -> None:
    layout = small_store()
    assert set(LOCATOR_NAMES) == {"nearest", "centroid", "wls", "tracker"}
    with pytest.raises(PositioningError, match="unknown locator"):
        make_locator("magic", layout)
    with pytest.raises(PositioningError, match="bad parameter"):
        make_locator("wls", layout, bogus=1)
    with pytest.raises(PositioningError, match="unknown tracker parameter"):
        make_locator("tracker", layout, bogus=1)


def test_unknown_beacons_and_bad_rssi_are_counted_not_fatal() -> None:
    loc = make_locator("wls", small_store())
    loc.observe(ObservationBatch.from_arrays([0.1, 0.2], ["d", "d"], ["nope", "1"], [-60.0, 5.0]))
    assert len(loc.estimate(1.0)) == 0
    assert loc.rejected == {"unknown_beacon": 1, "invalid_rssi": 1}


def test_typed_configuration_builds_the_same_locator_as_keywords() -> None:
    layout = small_store()
    config = locator_config("centroid", window_s=2.0, top_k=3)
    assert config == CentroidConfig(window_s=2.0, top_k=3)
    rng = np.random.default_rng(5)
    batch = observe_path(layout, "a", np.array([0.0, 1.0]), np.array([[3.0, 3.0]] * 2), rng)
    by_config, by_name = (
        build_locator(config, layout),
        make_locator("centroid", layout, window_s=2.0, top_k=3),
    )
    for loc in (by_config, by_name):
        loc.observe(batch)
    assert np.array_equal(by_config.estimate(1.0).xy_m, by_name.estimate(1.0).xy_m)
    tracker = locator_config("tracker", n_particles=64)
    assert isinstance(tracker, TrackerConfig) and tracker.params.n_particles == 64
    with pytest.raises(PositioningError, match="top_k"):
        locator_config("wls", top_k=3)
