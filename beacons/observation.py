"""The one record every source reduces to: an RSSI reading of a fixed radio by a device.

Both real topologies map onto it (ARCHITECTURE 1): a phone hearing fixed beacons
(the phone is the device), or fixed receivers hearing a tag (the tag is the device
and the receiver plays the layout's "beacon").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The RSSI rule lives with the other validity rules (beacons.validity); re-exported here.
from beacons.validity import RSSI_MAX_DBM, RSSI_MIN_DBM, rssi_is_valid

__all__ = ["RSSI_MAX_DBM", "RSSI_MIN_DBM", "Observation", "ObservationBatch", "rssi_is_valid"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One reading: at ``t_s`` (epoch seconds) ``device_id`` heard ``beacon_id`` at ``rssi_dbm``."""

    t_s: float
    device_id: str
    beacon_id: str
    rssi_dbm: float


@dataclass(frozen=True, slots=True)
class ObservationBatch:
    """Many observations as columns, the form vectorised code works on.

    Arrays are all of shape (N,): ``t_s`` float64 epoch seconds, ``device_id`` and
    ``beacon_id`` numpy ``str`` arrays, ``rssi_dbm`` float64 dBm.
    """

    t_s: npt.NDArray[np.float64]
    device_id: npt.NDArray[np.str_]
    beacon_id: npt.NDArray[np.str_]
    rssi_dbm: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.t_s)
        for name in ("device_id", "beacon_id", "rssi_dbm"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"ObservationBatch column {name!r} has {len(getattr(self, name))} rows, t_s has {n}"
                )

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def from_arrays(
        cls,
        t_s: npt.ArrayLike,
        device_id: npt.ArrayLike,
        beacon_id: npt.ArrayLike,
        rssi_dbm: npt.ArrayLike,
    ) -> ObservationBatch:
        return cls(
            np.asarray(t_s, dtype=np.float64),
            np.asarray(device_id).astype(str),
            np.asarray(beacon_id).astype(str),
            np.asarray(rssi_dbm, dtype=np.float64),
        )

    @classmethod
    def from_observations(cls, observations: Iterable[Observation]) -> ObservationBatch:
        obs: Sequence[Observation] = list(observations)
        return cls.from_arrays(
            [o.t_s for o in obs] or np.empty(0),
            [o.device_id for o in obs] or np.empty(0, dtype=str),
            [o.beacon_id for o in obs] or np.empty(0, dtype=str),
            [o.rssi_dbm for o in obs] or np.empty(0),
        )

    @classmethod
    def empty(cls) -> ObservationBatch:
        return cls.from_arrays(
            np.empty(0), np.empty(0, dtype=str), np.empty(0, dtype=str), np.empty(0)
        )

    def take(self, index: npt.ArrayLike) -> ObservationBatch:
        """Rows selected by a boolean mask or an integer index array."""
        i = np.asarray(index)
        return ObservationBatch(self.t_s[i], self.device_id[i], self.beacon_id[i], self.rssi_dbm[i])

    def sorted_by_time(self) -> ObservationBatch:
        """A copy in time order (stable, so equal times keep their arrival order)."""
        return self.take(np.argsort(self.t_s, kind="stable"))

    def __iter__(self) -> Iterator[Observation]:
        for t, d, b, r in zip(self.t_s, self.device_id, self.beacon_id, self.rssi_dbm, strict=True):
            yield Observation(float(t), str(d), str(b), float(r))
