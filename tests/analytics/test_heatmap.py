from __future__ import annotations

import numpy as np
import pytest
from analytics_synth import T0, positions

from analytics.heatmap import distinct_per_cell, occupancy, sample_weights_s, smoothed_density
from positioning.layout import Layout


def test_sixty_seconds_in_one_cell_gives_sixty_seconds(fashion: Layout) -> None:
    t = T0 + np.arange(61.0)  # 61 samples 1 s apart: 60 s between the first and last
    occ = occupancy(
        positions(t, ["a"] * 61, np.full(61, 5.2), np.full(61, 7.3)), fashion, cell_m=0.5
    )
    assert occ.seconds[14, 10] == pytest.approx(60.0)
    assert occ.seconds.sum() == pytest.approx(60.0)
    assert occ.seconds_per_m2[14, 10] == pytest.approx(240.0)
    assert occ.visitors[14, 10] == 1
    assert occ.visitors.sum() == 1


def test_gaps_are_capped_and_devices_do_not_mix(fashion: Layout) -> None:
    # a: samples at 0, 1, 100 (gap of 99 s counts 5 s); b interleaved at another cell.
    t = T0 + np.array([0.0, 0.5, 1.0, 1.5, 100.0, 2.5])
    dev = ["a", "b", "a", "b", "a", "b"]
    x = np.array([1.1, 20.1, 1.1, 20.1, 1.1, 20.1])
    occ = occupancy(positions(t, dev, x, np.full(6, 1.1)), fashion, cell_m=0.5, max_gap_s=5.0)
    assert occ.seconds[2, 2] == pytest.approx(1.0 + 5.0)
    assert occ.seconds[2, 40] == pytest.approx(2.0)


def test_unsorted_input_gives_the_same_weights() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 100, 200))
    codes = rng.integers(0, 5, 200)
    perm = rng.permutation(200)
    o1, w1 = sample_weights_s(t, codes, 5.0)
    o2, w2 = sample_weights_s(t[perm], codes[perm], 5.0)
    assert np.allclose(np.sort(w1), np.sort(w2))
    assert w1.sum() == pytest.approx(w2.sum())


def test_street_time_is_kept_apart(fashion: Layout) -> None:
    t = T0 + np.arange(11.0)
    occ = occupancy(positions(t, ["p"] * 11, np.full(11, 15.0), np.full(11, -2.0)), fashion)
    assert occ.seconds.sum() == 0.0
    assert occ.outside_s == pytest.approx(10.0)


def test_smoothing_keeps_the_total_and_k_suppresses_small_cells(fashion: Layout) -> None:
    n = 5
    t = np.tile(T0 + np.arange(11.0), n)
    dev = np.repeat([f"d{i}" for i in range(n)], 11)
    x = np.where(np.repeat(np.arange(n), 11) < 3, 15.2, 5.2)  # 3 devices at x=15.2, 2 at x=5.2
    occ = occupancy(positions(t, dev, x, np.full(len(t), 10.2)), fashion, cell_m=0.5)
    assert occ.visitors[20, 30] == 3 and occ.visitors[20, 10] == 2
    open_map = smoothed_density(occ, smooth_m=0.75, k=1)
    assert np.nansum(open_map) * 0.25 == pytest.approx(50.0, rel=1e-3)
    k3 = smoothed_density(occ, smooth_m=0.75, k=3)
    assert np.isnan(k3[20, 10]) and np.isfinite(k3[20, 30])
    assert np.nansum(k3) * 0.25 == pytest.approx(30.0, rel=1e-3)  # the 2-device cell leaks nothing
    k5 = smoothed_density(occ, smooth_m=0.75, k=5)
    assert np.isnan(k5[20, 30]) and np.nansum(k5) == 0.0


def test_distinct_per_cell_bitmap_and_sorted_pairs_agree() -> None:
    rng = np.random.default_rng(11)
    cell = rng.integers(0, 50, 5000)
    dev = rng.integers(0, 30, 5000)
    expected = [len(set(dev[cell == c])) for c in range(50)]
    assert distinct_per_cell(cell, dev, 50, 30).tolist() == expected
    assert distinct_per_cell(cell, dev, 50, 30, bitmap_max_bytes=0).tolist() == expected
