"""Dwell detection: a device standing still, in one zone, for at least a named time.

Same definition as the simulator's truth (docs/simulator.md, sim/truth.py): a dwell
is a group of stops in one zone, stops less than ``merge_gap_s`` of walking apart,
spanning at least ``min_s``. Fixes of a standing device scatter by the position
error, so the detector works on a short moving average of the fixes:

- a **still run** continues while the smoothed fix stays within ``radius_m`` of the
  run's running mean; a run lasting ``stop_min_s`` is a **stop**;
- a stop in the same zone (by the position of its centre) starting within
  ``merge_gap_s`` of the previous stop's end joins its group;
- the group becomes a dwell once it spans ``min_s`` (start: its first stop's start);
- the dwell ends ``merge_gap_s`` after the last stop ended with no new stop (end:
  that stop's end), or when a stop in another zone begins; :meth:`end` closes it
  when the visit ends.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DWELL_MERGE_GAP_S",
    "DEFAULT_DWELL_MIN_S",
    "DEFAULT_DWELL_RADIUS_M",
    "DEFAULT_DWELL_SMOOTH_S",
    "DEFAULT_STOP_MIN_S",
    "DwellChange",
    "DwellDetector",
    "DwellParams",
]


#: Minimum span of a dwell, seconds: the simulator's truth definition (sim.truth.DWELL_MIN_S,
#: "engagement with goods, not a pause in a crowd").
DEFAULT_DWELL_MIN_S = 20.0
#: Walking between stops shorter than this does not break a dwell, seconds
#: (sim.truth.DWELL_MERGE_GAP_S); also the delay before a dwell's end is final.
DEFAULT_DWELL_MERGE_GAP_S = 10.0
#: Radius of a still run, metres: a shopper at a display shifts ~0.5 m and the smoothed
#: fix of a standing device scatters by ~0.5-1 m (tracker median error target 1 m).
DEFAULT_DWELL_RADIUS_M = 1.5
#: Shortest still run that is a stop, seconds. A walker at the slowest browsing speed
#: (0.6 m/s) leaves a 1.5 m radius around its running mean within ~5 s.
DEFAULT_STOP_MIN_S = 6.0
#: Moving-average window of the fixes, seconds: ~3 fixes at 1 Hz divide the scatter
#: by ~1.7 while a walker still moves > 2 m in the window.
DEFAULT_DWELL_SMOOTH_S = 3.0


@dataclass(frozen=True, slots=True)
class DwellParams:
    min_s: float = DEFAULT_DWELL_MIN_S
    merge_gap_s: float = DEFAULT_DWELL_MERGE_GAP_S
    radius_m: float = DEFAULT_DWELL_RADIUS_M
    stop_min_s: float = DEFAULT_STOP_MIN_S
    smooth_s: float = DEFAULT_DWELL_SMOOTH_S


@dataclass(frozen=True, slots=True)
class DwellChange:
    """A dwell started (``started``) or ended at ``t_s``; (x_m, y_m) is its first stop's centre."""

    started: bool
    t_s: float
    x_m: float
    y_m: float
    start_s: float


class DwellDetector:
    """Dwell state of one device; feed it fixes in time order with :meth:`update`."""

    __slots__ = (
        "_p", "_recent", "_run_s", "_sx", "_sy", "_n", "_last_s",
        "_group_s", "_stop_end_s", "_anchor", "active", "_zone_of", "_run_zone", "zone",
    )  # fmt: skip

    def __init__(
        self, params: DwellParams, zone_of: Callable[[float, float], int] | None = None
    ) -> None:
        self._p = params
        self._zone_of = zone_of or (lambda x, y: -1)
        self._run_zone: int | None = None  # zone of the current run once it is a stop
        self.zone = -1  # zone of the current group of stops
        self._recent: deque[tuple[float, float, float]] = deque()
        self._run_s = math.nan  # start of the current still run
        self._sx = self._sy = 0.0
        self._n = 0
        self._last_s = math.nan  # time of the latest fix
        self._group_s = math.nan  # start of the current group of stops
        self._stop_end_s = -math.inf  # last time a stop was seen going on
        self._anchor = (math.nan, math.nan)
        self.active = False

    @property
    def anchor(self) -> tuple[float, float]:
        """Centre of the group's first stop, metres."""
        return self._anchor

    @property
    def dwell_start_s(self) -> float:
        return self._group_s

    def _smoothed(self, t_s: float, x_m: float, y_m: float) -> tuple[float, float]:
        self._recent.append((t_s, x_m, y_m))
        while self._recent[0][0] <= t_s - self._p.smooth_s:
            self._recent.popleft()
        n = len(self._recent)
        return sum(r[1] for r in self._recent) / n, sum(r[2] for r in self._recent) / n

    def update(self, t_s: float, x_m: float, y_m: float) -> DwellChange | None:
        x, y = self._smoothed(t_s, x_m, y_m)
        self._last_s = t_s
        mean = (self._sx / max(self._n, 1), self._sy / max(self._n, 1))
        if self._n == 0 or math.hypot(x - mean[0], y - mean[1]) > self._p.radius_m:
            self._run_s, self._sx, self._sy, self._n = t_s, x, y, 1
            self._run_zone = None
        else:
            self._sx, self._sy, self._n = self._sx + x, self._sy + y, self._n + 1
        if t_s - self._run_s + 1e-9 >= self._p.stop_min_s:
            return self._on_stop(t_s, x, y)
        if self.active and t_s - self._stop_end_s >= self._p.merge_gap_s:
            return self._close(self._stop_end_s)
        return None

    def _on_stop(self, t_s: float, x_m: float, y_m: float) -> DwellChange | None:
        change = None
        if self._run_zone is None:  # the run just became a stop: where is it? The smoothed
            # fix now (the last smooth_s of a still run), not the run's mean, which still
            # holds the approach's lagging smoothed fixes: a stop 0.1 m inside a zone's
            # edge has its mean outside (measured, showroom with true positions: the 5
            # dwells of 29 that stand at the counter's edge were lost, dwell recall 0.83)
            self._run_zone = self._zone_of(x_m, y_m)
        gap_s = self._run_s - self._stop_end_s
        if gap_s >= self._p.merge_gap_s or self._run_zone != self.zone:  # a new group
            change = self._close(min(self._stop_end_s, self._run_s))
            self._group_s, self.zone = self._run_s, self._run_zone
            self._anchor = (self._sx / self._n, self._sy / self._n)
        self._stop_end_s = t_s
        if self.active or t_s - self._group_s + 1e-9 < self._p.min_s:
            return change
        self.active = True
        return DwellChange(True, self._group_s, *self._anchor, start_s=self._group_s)

    def _close(self, t_s: float) -> DwellChange | None:
        was_active, self.active = self.active, False
        self._stop_end_s = -math.inf
        if not was_active:
            return None
        return DwellChange(False, max(t_s, self._group_s), *self._anchor, start_s=self._group_s)

    def end(self, t_s: float) -> DwellChange | None:
        """Close the dwell at ``t_s`` (the visit ended); the next stop starts a new group."""
        self._run_s, self._sx, self._sy, self._n = self._last_s, 0.0, 0.0, 0
        self._run_zone, self.zone = None, -1
        return self._close(t_s)
