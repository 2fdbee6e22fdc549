"""The one shape every live source of observations has: an async iterator.

A bleak scanner, an ESPresense bridge, a replay of a log and the test fake all
yield :class:`~beacons.observation.Observation` in arrival order; consumers never
see a platform type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from beacons.observation import Observation

__all__ = ["ObservationSource"]


@runtime_checkable
class ObservationSource(Protocol):
    """An async iterable of observations. Iteration ends when the source is exhausted."""

    def __aiter__(self) -> AsyncIterator[Observation]: ...
