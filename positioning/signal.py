"""RSSI conditioning: validation, outlier rejection and windowed aggregation.

Raw observations become, per window, a matrix of devices x beacons holding a robust
mean RSSI (dB) and a sample count. Everything is vectorised with numpy over the
whole window: rows are grouped by a flat (device, beacon) key with sorting and
``bincount``, never with a Python loop per device.

Topologies (ARCHITECTURE 1): a phone hearing fixed beacons, or fixed receivers
hearing a tag. Both give the same rows; they differ in where the hardware spread
sits (the phone's gain is per device, a receiver's per anchor), which
:mod:`positioning.tracker.selfcal` estimates both ways, and in the report rate, which the
window length absorbs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch, rssi_is_valid

__all__ = [
    "DEFAULT_WINDOW_S",
    "DeviceCodes",
    "Encoded",
    "EncodedRows",
    "MAD_TO_SIGMA",
    "OUTLIER_FLOOR_DB",
    "OUTLIER_GATE_SIGMAS",
    "RowBuffer",
    "WindowMatrix",
    "aggregate",
    "encode_batch",
    "group_median",
    "reject_outliers",
]


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Outlier gate in robust standard deviations (1.4826 * MAD). 3 sigma keeps 99.7 % of
#: Gaussian samples and drops the deep fades and reflections that are not.
OUTLIER_GATE_SIGMAS = 3.0
#: Smallest robust spread used by the gate, dB: with few samples the MAD can be 0 and
#: would reject everything but the median. Half the typical 4-8 dB fading spread.
OUTLIER_FLOOR_DB = 4.0
#: MAD to standard deviation for Gaussian data (Rousseeuw & Croux, JASA 88, 1993).
MAD_TO_SIGMA = 1.4826
#: Window for the baseline locators, seconds: 2 s holds ~10-20 readings per beacon at
#: common 5-10 Hz advertising, while a walker (1.2 m/s) moves little more than 2 m.
DEFAULT_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class EncodedRows:
    """Observation rows with devices and beacons as integer codes (all arrays (N,))."""

    t_s: FloatArray
    device: IntArray
    beacon: IntArray
    rssi_dbm: FloatArray

    def __len__(self) -> int:
        return len(self.t_s)

    def take(self, index: npt.ArrayLike) -> EncodedRows:
        i = np.asarray(index)
        return EncodedRows(self.t_s[i], self.device[i], self.beacon[i], self.rssi_dbm[i])

    @classmethod
    def empty(cls) -> EncodedRows:
        return cls(
            np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        )

    @classmethod
    def concat(cls, parts: list[EncodedRows]) -> EncodedRows:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.t_s for p in parts]),
            np.concatenate([p.device for p in parts]),
            np.concatenate([p.beacon for p in parts]),
            np.concatenate([p.rssi_dbm for p in parts]),
        )


class DeviceCodes:
    """A growing, deterministic mapping device id <-> integer code (first seen, first coded)."""

    def __init__(self) -> None:
        self._code: dict[str, int] = {}
        self._ids: list[str] = []

    def encode(self, device_ids: npt.NDArray[np.str_]) -> IntArray:
        uniq, inverse = np.unique(device_ids, return_inverse=True)
        first = np.full(len(uniq), len(device_ids), dtype=np.int64)
        np.minimum.at(first, inverse, np.arange(len(device_ids)))
        codes = np.empty(len(uniq), dtype=np.int64)
        for j in np.argsort(first, kind="stable"):  # one step per distinct device in the batch
            key = str(uniq[j])
            code = self._code.get(key)
            if code is None:
                code = self._code[key] = len(self._ids)
                self._ids.append(key)
            codes[j] = code
        return codes[inverse.reshape(-1)]

    def lookup(self, device_ids: Iterable[str]) -> IntArray:
        """Codes of the ids already known (unknown ids are skipped)."""
        codes = [self._code[d] for d in device_ids if d in self._code]
        return np.array(codes, dtype=np.int64)

    def ids(self, codes: npt.ArrayLike) -> npt.NDArray[np.str_]:
        table = np.array(self._ids if self._ids else [""], dtype=str)
        return np.asarray(table[np.asarray(codes, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Result of :func:`encode_batch`: usable rows and how many were dropped and why."""

    rows: EncodedRows
    unknown_beacon: int
    invalid_rssi: int


def encode_batch(
    batch: ObservationBatch, beacon_index: Mapping[str, int], devices: DeviceCodes
) -> Encoded:
    """Rows of ``batch`` with known beacons and valid RSSI, as integer codes."""
    n = len(batch)
    if n == 0:
        return Encoded(EncodedRows.empty(), 0, 0)
    uniq_b, inv_b = np.unique(batch.beacon_id, return_inverse=True)
    lut = np.array([beacon_index.get(str(b), -1) for b in uniq_b], dtype=np.int64)
    beacon = lut[inv_b.reshape(-1)]
    known = beacon >= 0
    valid = rssi_is_valid(batch.rssi_dbm) & np.isfinite(batch.t_s)
    keep = known & valid
    rows = EncodedRows(
        np.asarray(batch.t_s[keep], dtype=np.float64),
        devices.encode(batch.device_id[keep]),
        beacon[keep],
        np.asarray(batch.rssi_dbm[keep], dtype=np.float64),
    )
    return Encoded(rows, int(np.count_nonzero(~known)), int(np.count_nonzero(known & ~valid)))


def group_median(key: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray, IntArray]:
    """Median of ``values`` per distinct ``key``: (keys sorted, medians, counts)."""
    order = np.lexsort((values, key))
    k, v = key[order], values[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[starts, len(k)])
    lo = v[starts + (counts - 1) // 2]
    hi = v[starts + counts // 2]
    return k[starts], (lo + hi) / 2.0, counts


def reject_outliers(
    key: IntArray,
    values: FloatArray,
    gate_sigmas: float = OUTLIER_GATE_SIGMAS,
    floor_db: float = OUTLIER_FLOOR_DB,
) -> npt.NDArray[np.bool_]:
    """(N,) True for rows within ``gate_sigmas`` robust deviations of their group's median.

    Groups are rows sharing ``key`` (a device x beacon pair within a window). The
    spread is 1.4826 * MAD, floored at ``floor_db`` so a small group keeps its
    ordinary fading. Groups of one or two rows keep everything.
    """
    if len(key) == 0:
        return np.ones(0, dtype=bool)
    keys, med, counts = group_median(key, values)
    if counts.max() <= 2:
        return np.ones(len(key), dtype=bool)
    where = np.searchsorted(keys, key)
    dev = np.abs(values - med[where])
    _, mad, _ = group_median(key, dev)
    spread = np.maximum(MAD_TO_SIGMA * mad, floor_db)
    return np.asarray((dev <= gate_sigmas * spread[where]) | (counts[where] <= 2))


@dataclass(frozen=True, slots=True)
class WindowMatrix:
    """Aggregated RSSI of a window: devices x beacons.

    ``device``: (D,) codes, ascending. ``rssi_dbm``: (D, B) robust mean in dB, NaN where
    a beacon was not heard. ``count``: (D, B) samples kept. ``last_t_s``: (D,) newest row.
    ``mean_t_s``: (D,) mean time of the rows (None: not computed).
    """

    device: IntArray
    rssi_dbm: FloatArray
    count: IntArray
    last_t_s: FloatArray
    mean_t_s: FloatArray | None = None

    @property
    def heard(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.count > 0)

    @property
    def n_beacons(self) -> IntArray:
        return np.asarray(np.count_nonzero(self.count, axis=1), dtype=np.int64)


def aggregate(rows: EncodedRows, n_beacons: int, reject: bool = True) -> WindowMatrix:
    """Robust mean RSSI per (device, beacon) of ``rows`` (outliers rejected first)."""
    if len(rows) == 0:
        return WindowMatrix(
            np.empty(0, np.int64),
            np.empty((0, n_beacons)),
            np.empty((0, n_beacons), np.int64),
            np.empty(0),
        )
    devices, dev_row = np.unique(rows.device, return_inverse=True)
    dev_row = dev_row.reshape(-1)
    key = dev_row * n_beacons + rows.beacon
    keep = reject_outliers(key, rows.rssi_dbm) if reject else np.ones(len(key), bool)
    size = len(devices) * n_beacons
    count = np.bincount(key[keep], minlength=size)
    total = np.bincount(key[keep], weights=rows.rssi_dbm[keep], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    last = np.full(len(devices), -np.inf)
    np.maximum.at(last, dev_row, rows.t_s)
    rows_per_device = np.bincount(dev_row, minlength=len(devices))
    mean_t = np.bincount(dev_row, weights=rows.t_s, minlength=len(devices)) / rows_per_device
    return WindowMatrix(
        devices,
        mean.reshape(len(devices), n_beacons),
        count.reshape(len(devices), n_beacons).astype(np.int64),
        last,
        mean_t,
    )


class RowBuffer:
    """Encoded rows kept for a sliding window; appends are cheap, reads concatenate once."""

    def __init__(self) -> None:
        self._parts: list[EncodedRows] = []

    def append(self, rows: EncodedRows) -> None:
        if len(rows):
            self._parts.append(rows)

    def rows(self) -> EncodedRows:
        merged = EncodedRows.concat(self._parts)
        self._parts = [merged] if len(merged) else []
        return merged

    def between(self, t_from_s: float, t_to_s: float) -> EncodedRows:
        """Rows with t_from_s < t <= t_to_s."""
        r = self.rows()
        return r.take((r.t_s > t_from_s) & (r.t_s <= t_to_s))

    def drop_before(self, t_s: float) -> None:
        """Forget rows with t <= t_s."""
        r = self.rows()
        if len(r) and r.t_s.min() <= t_s:
            kept = r.take(r.t_s > t_s)
            self._parts = [kept] if len(kept) else []

    def drop_devices(self, codes: npt.ArrayLike) -> None:
        r = self.rows()
        if len(r):
            kept = r.take(~np.isin(r.device, np.asarray(codes, dtype=np.int64)))
            self._parts = [kept] if len(kept) else []

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)
