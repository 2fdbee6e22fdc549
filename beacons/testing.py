"""Test helpers shipped in the package: fakes at the radio boundary.

``FakeSource`` stands in for a scanner wherever code consumes an
:class:`~beacons.source.ObservationSource`; it needs no radio and no clock.
The fake radio for bleak (``FakeAdvertisement``, ``AdapterOutage``, ``fake_backend``) is
product code in :mod:`beacons.fakeradio` (``--fake-advertisements`` uses it); it is
re-exported here for tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from beacons.fakeradio import (
    AdapterOutage,
    FakeAdvertisement,
    FakeRadioEvent,
    fake_backend,
    load_fake_advertisements,
)
from beacons.observation import Observation, ObservationBatch

__all__ = [
    "AdapterOutage",
    "FakeAdvertisement",
    "FakeRadioEvent",
    "FakeSource",
    "fake_backend",
    "load_fake_advertisements",
]


class FakeSource:
    """Yields ``observations`` in order.

    With ``pace`` > 0 it sleeps ``(t_next - t_prev) / pace`` between rows, so a
    recording plays at ``pace`` times real time; with 0 it yields as fast as asked.
    ``yielded`` counts the rows handed out.
    """

    def __init__(self, observations: Iterable[Observation], *, pace: float = 0.0) -> None:
        if pace < 0:
            raise ValueError(f"pace must be >= 0, got {pace}")
        self._rows = list(observations)
        self._pace = pace
        self.yielded = 0

    @classmethod
    def from_batch(cls, batch: ObservationBatch, *, pace: float = 0.0) -> FakeSource:
        return cls(iter(batch), pace=pace)

    async def __aiter__(self) -> AsyncIterator[Observation]:
        previous_t: float | None = None
        for obs in self._rows:
            if self._pace > 0 and previous_t is not None and obs.t_s > previous_t:
                await asyncio.sleep((obs.t_s - previous_t) / self._pace)
            else:
                await asyncio.sleep(0)
            previous_t = obs.t_s
            self.yielded += 1
            yield obs
