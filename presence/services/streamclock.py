"""Which reading times a live engine may believe (issue 18, finding 2).

The engine's clock is the latest reading time it has used, and it drops a reading that is
more than a second older as late. So one reading dated decades ahead (inside the decoder's
1970..2100 window) would blind it until a restart: every honest reading after it is "late".

A reading may move the clock only if it is plausible:

- it is at most ``max_jump_s`` ahead of the stream's clock (the stream goes on), or
- it is within ``max_jump_s`` of the wall clock (a live reading stamped now: the store
  opening after a quiet night), or
- it jumps ahead of both, but another device has just claimed a time as far ahead
  (a replay of a future-dated simulated day starts: its second device confirms the first).

Anything else is refused with ``time_out_of_range`` and moves nothing; the refused time is
remembered as a claim that a different device may confirm. Device ids are free-form, so two
colluding ids can still move a replay's clock: on a store's bus only authenticated gateways
publish readings (docs/security.md), and a live stream is held to the wall clock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["MAX_CLAIMS", "MAX_JUMP_S", "StreamClock"]

#: How far ahead of the stream's clock (or the wall clock) a reading may be. An hour: longer
#: than any pause inside a replayed day's busy hours, far shorter than the days a rogue time skips.
MAX_JUMP_S = 3600.0
#: Claims of refused jumps remembered for confirmation (bounded whatever the ids).
MAX_CLAIMS = 64


class StreamClock:
    """``admit(device, t_s)``: may this reading move the stream's clock? ``latest_s`` is the clock."""

    def __init__(
        self, *, max_jump_s: float = MAX_JUMP_S, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.max_jump_s = max_jump_s
        self.wall_clock = wall_clock
        self.latest_s: float | None = None
        self._claims: OrderedDict[str, float] = OrderedDict()  # device -> refused time

    def admit(self, device: str, t_s: float) -> bool:
        wall_s = self.wall_clock()
        reference = wall_s if self.latest_s is None else self.latest_s
        plausible = t_s <= reference + self.max_jump_s or abs(t_s - wall_s) <= self.max_jump_s
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

    def went_on(self, t_s: float) -> None:
        """The stream reached ``t_s`` (a reading admitted before, e.g. replayed from a journal)."""
        if self.latest_s is None or t_s > self.latest_s:
            self.latest_s = t_s

    def _claim(self, device: str, t_s: float) -> None:
        self._claims.pop(device, None)
        self._claims[device] = t_s
        while len(self._claims) > MAX_CLAIMS:
            self._claims.popitem(last=False)
