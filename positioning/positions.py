"""Position rows: the engine's per-epoch fixes as columns (ARCHITECTURE 3.4 positions.csv)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "PositionRows"]


#: CSV column for each field, in file order: the contract's t, device_id, x, y first.
COLUMNS = {
    "t_s": "t",
    "device_id": "device_id",
    "x_m": "x",
    "y_m": "y",
    "zone": "zone",
    "sigma_m": "sigma_m",
    "n_beacons": "n_beacons",
    "in_store": "in_store",
    "staff": "staff",
}


@dataclass(frozen=True, slots=True)
class PositionRows:
    """Arrays of shape (N,): epoch time ``t_s``, device, position in metres, committed
    zone name ("" when none), 1-sigma radius, beacons heard, in-store and staff flags."""

    t_s: npt.NDArray[np.float64]
    device_id: npt.NDArray[np.str_]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    zone: npt.NDArray[np.str_]
    sigma_m: npt.NDArray[np.float64]
    n_beacons: npt.NDArray[np.int64]
    in_store: npt.NDArray[np.bool_]
    staff: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def empty(cls) -> PositionRows:
        f, s = np.empty(0, np.float64), np.empty(0, dtype=str)
        return cls(f, s, f, f, s, f, np.empty(0, np.int64), np.empty(0, bool), np.empty(0, bool))

    @classmethod
    def concat(cls, parts: Sequence[PositionRows]) -> PositionRows:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame with the CSV column names (t, device_id, x, y, zone, ...)."""
        import pandas as pd  # only for callers that want a frame; positioning itself needs numpy

        return pd.DataFrame({COLUMNS[f.name]: getattr(self, f.name) for f in fields(self)})
