"""Which reading times an engine may believe (issue 18, finding 2).

The engine's clock is the latest reading time it has used, and it drops a reading that is
more than a second older as late. So one reading dated decades ahead (inside the decoder's
1970..2100 window) would blind it until a restart: every honest reading after it is "late".

A reading may move the clock only if it is plausible:

- it is within ``max_jump_s`` (an hour) of the wall clock: a live reading stamped now, the
  store opening after a quiet night; or
- the stream lives at wall time (live) and the reading is at most ``max_jump_s`` ahead of
  it; or the stream lives elsewhere in time (a replay, a file) and the reading is at most
  ``max_gap_s`` (a week) ahead: recordings have nights and weekends between a device and
  the next (kolakowski-calib: 1.45 h with nobody heard); or
- it jumps further, but another device has just claimed a time as far ahead (a replay of a
  simulated day next month starts: its second device confirms the first).

Anything else is refused with ``time_out_of_range`` and moves nothing; the refused time is
remembered as a claim that a different device may confirm. Device ids are free-form, so two
colluding ids can still move a replay's clock: on a store's bus only authenticated gateways
publish readings (docs/security.md), and a live stream is held to the wall clock.

A file has no wall clock (``wall_clock=None``): its first reading starts the stream, and
``admit_many`` applies the same rule to a chunk of rows at numpy speed (a Python step only
for each row that jumps ahead).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_CLAIMS", "MAX_GAP_S", "MAX_JUMP_S", "StreamClock"]

#: How far ahead of the wall clock, or of a live stream, a reading may be.
MAX_JUMP_S = 3600.0
#: How far ahead of a replayed or recorded stream a reading may be: its nights and weekends,
#: far shorter than the decades a rogue time skips.
MAX_GAP_S = 7 * 86_400.0
#: Claims of refused jumps remembered for confirmation (bounded whatever the ids).
MAX_CLAIMS = 64


class StreamClock:
    """``admit(device, t_s)``: may this reading move the stream's clock? ``latest_s`` is the clock."""

    def __init__(
        self,
        *,
        max_jump_s: float = MAX_JUMP_S,
        max_gap_s: float = MAX_GAP_S,
        wall_clock: Callable[[], float] | None = time.time,
    ) -> None:
        self.max_jump_s = max_jump_s
        self.max_gap_s = max_gap_s
        self.wall_clock = wall_clock
        self.latest_s: float | None = None
        self._claims: OrderedDict[str, float] = OrderedDict()  # device -> refused time

    def admit(self, device: str, t_s: float) -> bool:
        wall_s = None if self.wall_clock is None else self.wall_clock()
        if self.latest_s is not None:
            reference = self.latest_s
        else:  # the first reading: held to the wall clock, or (a file) it starts the stream
            reference = t_s if wall_s is None else wall_s
        near_wall = wall_s is not None and abs(t_s - wall_s) <= self.max_jump_s
        live = wall_s is not None and abs(reference - wall_s) <= self.max_jump_s
        bound = self.max_jump_s if live else self.max_gap_s
        plausible = near_wall or t_s <= reference + bound
        if not plausible:
            confirmed = any(
                other != device and abs(t_s - claimed) <= self.max_jump_s
                for other, claimed in self._claims.items()
            )
            if not confirmed:
                self._claim(device, t_s)
                return False
            self._claims.clear()
        self.went_on(t_s)
        return True

    def admit_many(
        self, t_s: npt.NDArray[np.float64], device: npt.NDArray[np.str_]
    ) -> npt.NDArray[np.bool_]:
        """``admit`` for each row in order; True where admitted."""
        admitted = np.ones(len(t_s), dtype=bool)
        start = 0
        while start < len(t_s):
            rest = t_s[start:]
            latest = -np.inf if self.latest_s is None else self.latest_s
            before = np.maximum.accumulate(np.concatenate([[latest], rest]))[:-1]
            # rows within an hour of the stream are always admitted; the rest decide one by one
            ahead = np.flatnonzero(rest > before + self.max_jump_s)
            if not len(ahead):
                self.went_on(float(rest.max()))
                break
            k = start + int(ahead[0])
            if k > start:
                self.went_on(float(t_s[start:k].max()))
            admitted[k] = self.admit(str(device[k]), float(t_s[k]))
            start = k + 1
        return admitted

    def went_on(self, t_s: float) -> None:
        """The stream reached ``t_s`` (a reading admitted before, e.g. replayed from a journal)."""
        if self.latest_s is None or t_s > self.latest_s:
            self.latest_s = t_s

    def _claim(self, device: str, t_s: float) -> None:
        self._claims.pop(device, None)
        self._claims[device] = t_s
        while len(self._claims) > MAX_CLAIMS:
            self._claims.popitem(last=False)
