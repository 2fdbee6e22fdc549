"""The locator interface (interface B): observations in, one position fix per heard device out.

A :class:`Locator` buffers rows with ``observe`` and answers ``estimate(t_s)`` with a
:class:`PositionFix`. The baselines are :mod:`positioning.baselines`, the tracker
:mod:`positioning.tracker.filter`; :mod:`positioning.registry` builds one by name or from
its typed configuration.

Every locator is deterministic for the same seed and the same sequence of
``observe``/``estimate`` calls, and any chunking of the same rows into ``observe``
calls gives the same estimates (rows are only buffered until ``estimate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from beacons.observation import ObservationBatch

__all__ = ["Locator", "PositionFix"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PositionFix:
    """Positions of the devices heard in the window ending at ``t_s`` (arrays of length D)."""

    t_s: float
    device_id: npt.NDArray[np.str_]
    xy_m: FloatArray
    sigma_m: FloatArray
    n_beacons: npt.NDArray[np.int64]
    #: Probability (D,) that each device is inside the store (past the shop front), from
    #: the locator's own posterior; None when the locator has none (the baselines), and
    #: store presence then judges from ``xy_m`` and ``sigma_m``.
    p_inside: FloatArray | None = None
    #: Probability (D,) that each device is in the zone its fix ``xy_m`` lies in (or in no
    #: zone when the fix is in none), from the locator's own posterior; None when the
    #: locator has none, and the zone hysteresis then waits its full time.
    p_zone: FloatArray | None = None
    #: (D,) 1-sigma radius of the locator's posterior under its own radio model, m, where it
    #: differs from the honest ``sigma_m`` (which also counts how badly the model fits, issue
    #: 16); None: ``sigma_m``. The presence rules' thresholds were measured against it.
    spread_m: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.device_id)

    @classmethod
    def empty(cls, t_s: float) -> PositionFix:
        return cls(
            t_s, np.empty(0, dtype=str), np.empty((0, 2)), np.empty(0), np.empty(0, np.int64)
        )


class Locator(Protocol):
    name: str

    def observe(self, batch: ObservationBatch) -> None: ...

    def estimate(self, t_s: float) -> PositionFix: ...

    def forget(self, device_ids: Iterable[str]) -> None: ...
