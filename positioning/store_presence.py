"""Store presence: when a device enters and leaves the store, and who is staff.

The entrance side of the outline splits the plane into the store and the street
(where passers-by walk). ``depth`` is how far a fix lies into the store across that
side: negative in the street. Rules, each a named parameter:

- **enter**: the fix is inside by ``enter_depth_m`` even after subtracting
  ``enter_sigmas`` times its own 1-sigma radius (inside with ~84 % confidence for
  1 sigma), held for ``enter_min_s``. A passer-by's fix scatters into the doorway,
  and a locator's first fixes of a new device are uncertain (and ignored for
  ``settle_s``); neither is confidently deep inside, so passers-by are not counted. The visit is dated back to the last
  door crossing (depth going from <= 0 to > 0), the moment a person would call
  "came in".
- **exit**: depth <= -``exit_depth_m`` held for ``exit_min_s`` (seen in the street,
  walking away), dated to the crossing; or no observation row for ``away_timeout_s``
  (locators may keep reporting a device for their window after its last row; the
  row time is what says "unheard"), dated to the last row.
- **staff**: a visit longer than ``staff_after_s`` is a staff member's shift; the
  flag is sticky for the device.

A layout without an entrance has no street: every fix counts as inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.walkable import DEFAULT_STREET_DEPTH_M, entrance_side

#: Depth into the store a fix must reach (beyond its 1-sigma margin, below) to count as
#: inside, metres. Shops run an aisle along the inside of the window (1-1.5 m wide with
#: shelves behind it); a shopper walking it is ~1 m deep, and a larger depth would not
#: see them enter until they turn into the floor. Passers-by walk >= 0.3 m outside the
#: front (body clearance), so with the sigma margin an intrusion needs a > 1.3 m + 1
#: sigma error.
DEFAULT_ENTER_DEPTH_M = 1.0
#: Time the fix must stay that deep, seconds: two fixes at 1 Hz, so one wild fix is
#: not a visit, while the enter latency stays about 1.5 m / 1.2 m/s + 1 s < 3 s.
DEFAULT_ENTER_MIN_S = 1.0
#: Uncertainty margin of the enter test, in the fix's own 1-sigma radii: depth - 1 sigma
#: >= enter depth means "inside with ~84 % confidence" (one-sided normal), which keeps the
#: uncertain first fixes of a new device and smeared passers-by out.
DEFAULT_ENTER_SIGMAS = 1.0
#: A newly heard device's fixes are no evidence of entering for this long, seconds. A
#: particle filter starts spread over the floor and a window locator's first window
#: is partial: their first fixes land anywhere, with a radius that understates it.
#: Shoppers are heard from the street well before they reach the door, so this costs
#: them no latency; a device switched on inside enters 10 s late.
DEFAULT_SETTLE_S = 10.0
#: Largest 1-sigma radius of a fix that counts as evidence of entering, metres: the depth
#: of the street band where passers-by walk (positioning.walkable). A fix less certain
#: than that cannot tell the street from the floor, however deep inside it lands: a
#: locator that has lost a passer-by puts it anywhere on the floor with a 5-10 m radius.
DEFAULT_ENTER_MAX_SIGMA_M = DEFAULT_STREET_DEPTH_M
#: Distance into the street that counts as outside, metres. With the enter test's
#: 1 m + 1 sigma the hysteresis gap is > 2 m, which keeps a shopper browsing by the
#: door from flapping.
DEFAULT_EXIT_DEPTH_M = 1.0
#: Time in the street before an exit is declared, seconds: three fixes at 1 Hz.
DEFAULT_EXIT_MIN_S = 2.0
#: Reception gap after which an unheard device has left, seconds. Phone scanners report
#: about once a second per beacon (iOS ranging, Android balanced mode delivers in
#: batches of a few seconds); 15 s is three missed 5 s batches, and leaves room in the
#: 30 s exit-latency target for the time a leaving device is still heard outside.
DEFAULT_AWAY_TIMEOUT_S = 15.0
#: Visit length that marks staff, seconds (4 h): shopping visits last minutes to an
#: hour, a retail shift 4-8 h.
DEFAULT_STAFF_AFTER_S = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class StoreParams:
    enter_depth_m: float = DEFAULT_ENTER_DEPTH_M
    enter_min_s: float = DEFAULT_ENTER_MIN_S
    enter_sigmas: float = DEFAULT_ENTER_SIGMAS
    settle_s: float = DEFAULT_SETTLE_S
    enter_max_sigma_m: float = DEFAULT_ENTER_MAX_SIGMA_M
    exit_depth_m: float = DEFAULT_EXIT_DEPTH_M
    exit_min_s: float = DEFAULT_EXIT_MIN_S
    away_timeout_s: float = DEFAULT_AWAY_TIMEOUT_S
    staff_after_s: float = DEFAULT_STAFF_AFTER_S


@dataclass(frozen=True, slots=True)
class StoreChange:
    """The device entered (``entered``) or left the store at ``t_s`` (the crossing)."""

    entered: bool
    t_s: float
    x_m: float
    y_m: float
    visit_start_s: float
    reason: str  # "depth", "street", "timeout" or "end"


class EntranceDepth:
    """Signed depth of points into the store across the entrance side, metres."""

    __slots__ = ("_axis", "_origin", "_sign")

    def __init__(self, layout: Layout) -> None:
        self._axis, self._origin, self._sign = -1, 0.0, 1.0
        if layout.entrance is None:
            return
        side = entrance_side(layout)
        self._axis = 0 if side in ("left", "right") else 1
        self._origin = {
            "bottom": 0.0,
            "left": 0.0,
            "top": layout.height_m,
            "right": layout.width_m,
        }[side]
        self._sign = 1.0 if side in ("bottom", "left") else -1.0

    @property
    def has_street(self) -> bool:
        return self._axis >= 0

    def __call__(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self._axis < 0:
            return np.full(len(p), math.inf)
        return np.asarray(self._sign * (p[:, self._axis] - self._origin))


class StorePresence:
    """Store state of one device; :meth:`update` per fix, :meth:`tick` per epoch unheard."""

    __slots__ = (
        "_p",
        "inside",
        "staff",
        "visit_start_s",
        "last_heard_s",
        "_last_xy",
        "_cross_s",
        "_deep_s",
        "_street_s",
        "_was_in",
        "_first_s",
    )

    def __init__(self, params: StoreParams) -> None:
        self._p = params
        self.inside = False
        self.staff = False
        self.visit_start_s = math.nan
        self.last_heard_s = -math.inf
        self._last_xy = (math.nan, math.nan)
        self._cross_s = math.nan  # last time the fix crossed the door (in or out)
        self._deep_s = math.nan  # start of the current run at depth >= enter depth
        self._street_s = math.nan  # start of the current run at depth <= -exit depth
        self._was_in = False  # previous fix on the store side (depth > 0)
        self._first_s = math.nan  # first fix after the device was last unheard

    def update(
        self, t_s: float, x_m: float, y_m: float, depth_m: float, sigma_m: float = 0.0
    ) -> StoreChange | None:
        """One fix at ``depth_m`` into the store with 1-sigma radius ``sigma_m``."""
        if t_s - self.last_heard_s >= self._p.away_timeout_s:
            self._was_in, self._cross_s, self._first_s = False, t_s, t_s
        is_in = depth_m > 0.0
        if is_in != self._was_in:
            self._cross_s = t_s
        self._was_in = is_in
        self.last_heard_s, self._last_xy = t_s, (x_m, y_m)
        if self.inside:
            return self._update_inside(t_s, x_m, y_m, depth_m)
        margin_m = self._p.enter_sigmas * (sigma_m if math.isfinite(sigma_m) else math.inf)
        settled = t_s - self._first_s >= self._p.settle_s and sigma_m <= self._p.enter_max_sigma_m
        if depth_m - margin_m < self._p.enter_depth_m or not settled:
            self._deep_s = math.nan
            return None
        if math.isnan(self._deep_s):
            self._deep_s = t_s
        if t_s - self._deep_s + 1e-9 < self._p.enter_min_s:
            return None
        self.inside, self.visit_start_s, self._street_s = True, self._cross_s, math.nan
        return StoreChange(True, self._cross_s, x_m, y_m, self._cross_s, "depth")

    def _update_inside(
        self, t_s: float, x_m: float, y_m: float, depth_m: float
    ) -> StoreChange | None:
        if t_s - self.visit_start_s >= self._p.staff_after_s:
            self.staff = True
        if depth_m > -self._p.exit_depth_m:
            self._street_s = math.nan
            return None
        if math.isnan(self._street_s):
            self._street_s = t_s
        if t_s - self._street_s + 1e-9 < self._p.exit_min_s:
            return None
        return self._leave(max(self._cross_s, self.visit_start_s), x_m, y_m, "street")

    def tick(self, t_s: float, last_row_s: float) -> StoreChange | None:
        """Each epoch: an exit when no row of the device arrived for the away timeout."""
        if self.inside and t_s - last_row_s >= self._p.away_timeout_s:
            when = min(max(last_row_s, self.visit_start_s), self.last_heard_s)
            return self._leave(when, *self._last_xy, "timeout")
        return None

    def close(self) -> StoreChange | None:
        """End of input: the open visit ends at the last fix."""
        if not self.inside:
            return None
        return self._leave(max(self.last_heard_s, self.visit_start_s), *self._last_xy, "end")

    def _leave(self, t_s: float, x_m: float, y_m: float, reason: str) -> StoreChange:
        self.inside, self._deep_s, self._street_s = False, math.nan, math.nan
        return StoreChange(False, t_s, x_m, y_m, self.visit_start_s, reason)
