"""Signal conditioning: encoding, robust grouping, outlier rejection, windowed aggregation."""

from __future__ import annotations

import numpy as np

from beacons.observation import ObservationBatch
from positioning.signal import (
    DeviceCodes,
    EncodedRows,
    RowBuffer,
    aggregate,
    encode_batch,
    group_median,
    reject_outliers,
)


def test_group_median_matches_numpy_per_group() -> None:
    rng = np.random.default_rng(0)
    key = rng.integers(0, 7, 200)
    values = rng.normal(-70, 5, 200)
    keys, med, counts = group_median(key, values)
    for k, m, c in zip(keys, med, counts, strict=True):
        assert np.isclose(m, np.median(values[key == k]))
        assert c == np.count_nonzero(key == k)


def test_outlier_far_from_its_group_is_rejected_and_ordinary_fading_kept() -> None:
    values = np.array([-70.0, -71.0, -69.0, -72.0, -68.0, -95.0, -60.0, -61.0, -59.0])
    key = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    keep = reject_outliers(key, values)
    assert keep.tolist() == [True, True, True, True, True, False, True, True, True]


def test_encode_counts_unknown_beacons_and_invalid_rssi() -> None:
    batch = ObservationBatch.from_arrays(
        [0.0, 0.1, 0.2, 0.3, 0.4],
        ["a", "a", "b", "b", "a"],
        ["1", "9", "2", "1", "2"],
        [-60.0, -60.0, 0.0, np.nan, -70.0],
    )
    enc = encode_batch(batch, {"1": 0, "2": 1}, DeviceCodes())
    assert (enc.unknown_beacon, enc.invalid_rssi) == (1, 2)
    assert enc.rows.beacon.tolist() == [0, 1]
    assert enc.rows.device.tolist() == [0, 0]


def test_device_codes_are_stable_across_batches() -> None:
    codes = DeviceCodes()
    first = codes.encode(np.array(["z", "a", "z"]))
    second = codes.encode(np.array(["a", "q"]))
    assert first.tolist() == [0, 1, 0]
    assert second.tolist() == [1, 2]
    assert codes.ids([2, 0]).tolist() == ["q", "z"]
    assert codes.lookup(["q", "nope"]).tolist() == [2]


def test_aggregate_means_per_device_and_beacon() -> None:
    rows = EncodedRows(
        np.array([0.0, 0.5, 0.7, 0.9]),
        np.array([3, 3, 5, 3]),
        np.array([0, 0, 1, 1]),
        np.array([-60.0, -64.0, -80.0, -70.0]),
    )
    win = aggregate(rows, n_beacons=2)
    assert win.device.tolist() == [3, 5]
    assert np.allclose(win.rssi_dbm[0], [-62.0, -70.0])
    assert np.isnan(win.rssi_dbm[1, 0]) and win.rssi_dbm[1, 1] == -80.0
    assert win.count.tolist() == [[2, 1], [0, 1]]
    assert win.n_beacons.tolist() == [2, 1]
    assert win.last_t_s.tolist() == [0.9, 0.7]


def test_row_buffer_window_and_forget() -> None:
    buf = RowBuffer()
    for t in range(5):
        buf.append(
            EncodedRows(np.array([float(t)]), np.array([t % 2]), np.array([0]), np.array([-60.0]))
        )
    assert buf.between(1.0, 3.0).t_s.tolist() == [2.0, 3.0]
    buf.drop_before(1.0)
    assert buf.rows().t_s.tolist() == [2.0, 3.0, 4.0]
    buf.drop_devices([0])
    assert buf.rows().t_s.tolist() == [3.0]


def test_pairs_are_never_gated() -> None:
    keep = reject_outliers(
        np.array([0, 0, 1, 1, 1, 1]), np.array([-50.0, -100.0, -70, -70, -71, -99])
    )
    assert keep.tolist() == [True, True, True, True, True, False]
