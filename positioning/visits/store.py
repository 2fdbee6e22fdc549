"""Store presence: when a device enters and leaves the store, and who is staff.

The entrance side of the outline splits the plane into the store and the street
(where passers-by walk). ``depth`` is how far a fix lies into the store across that
side: negative in the street. Rules, each a named parameter:

- **enter**: the device is inside (past the shop front) with probability >=
  ``enter_p``, held for ``enter_min_s`` (not held from ``enter_sure_p``, when set; the
  hold may start at ``enter_lead_p``, when set). The
  probability is the locator's own posterior when it has one (``PositionFix.p_inside``),
  otherwise a normal error across the front from the fix's depth and 1-sigma radius
  (plus a floor, :func:`inside_probability`): one rule for every locator. Fixes of a
  newly heard device (for ``settle_s``; ``settle_posterior_s`` for fixes that carry the
  locator's posterior) and fixes with a radius above ``enter_max_sigma_m`` are no
  evidence. A passer-by's fix scatters into the doorway, but not confidently, so
  passers-by are not counted. The visit is dated back to the last door crossing
  (depth going from <= 0 to > 0), the moment a person would call "came in".
- **exit**: depth <= -``exit_depth_m`` held for ``exit_min_s`` (seen in the street,
  walking away; with the locator's posterior, also ``p_inside`` <= ``exit_p``: as sure of
  the street as the enter is of the store),
  dated to the crossing; or no observation row for ``away_timeout_s``
  (locators may keep reporting a device for their window after its last row; the
  row time is what says "unheard"), dated to the last row.
- **staff**: a visit longer than ``staff_after_s`` is a staff member's shift; the
  flag is sticky for the device.

A layout without an entrance (a lab, a back room, a flat) has no street (ARCHITECTURE
3.1): every heard device is inside. Its visit starts at its first fix and is entered
there and then (no settling, radius, probability or hold rule: they all tell the street
from the floor, and a fix is a reading the locator heard), so the enter is final when
that epoch is, at most ``epoch_s`` + ``reorder_s`` (2 s) after the first reading. It
ends after ``doorless_away_timeout_s`` without a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from positioning.layout import Layout
from positioning.walkable import DEFAULT_STREET_DEPTH_M, entrance_side

__all__ = [
    "DEFAULT_AWAY_TIMEOUT_S",
    "DEFAULT_DOORLESS_AWAY_TIMEOUT_S",
    "DEFAULT_ENTER_DEPTH_M",
    "DEFAULT_ENTER_MAX_SIGMA_M",
    "DEFAULT_ENTER_MIN_S",
    "DEFAULT_ENTER_P",
    "DEFAULT_ENTER_SIGMA_FLOOR_M",
    "DEFAULT_ENTER_SURE_P",
    "DEFAULT_ENTER_LEAD_P",
    "DEFAULT_ENTER_LEAD_REACH_M",
    "DEFAULT_ENTER_DOOR_REACH_M",
    "DEFAULT_ENTER_DOOR_MEMORY_S",
    "DEFAULT_ENTER_FAR_DEPTH_M",
    "DEFAULT_ENTER_FAR_HOLD_S",
    "DEFAULT_EXIT_DEPTH_M",
    "DEFAULT_EXIT_MIN_S",
    "DEFAULT_EXIT_P",
    "DEFAULT_SETTLE_POSTERIOR_S",
    "DEFAULT_SETTLE_S",
    "DEFAULT_STAFF_AFTER_S",
    "EntranceDepth",
    "StoreChange",
    "StoreParams",
    "StorePresence",
    "inside_probability",
]


#: Probability of being inside the store (past the shop front) that counts as evidence of
#: entering: 0.975, the 95 % two-sided interval of the position clear of the front (1.96
#: sigma). A counted passer-by is a false visitor (and a welcome sent to the street), a
#: late enter costs seconds. Measured with the tracker's posterior over the eight accuracy
#: scenarios: passers-by counted 16 at 0.95, 11 at 0.975, 10 at 0.99 (+0-1 s median enter
#: latency), 6 at 0.999 (+1-12 s), all with a one-epoch hold; with true positions 0.99
#: takes the supermarket's median enter latency from 2.5 to 6.5 s (one-epoch hold;
#: shoppers walk the window aisle ~0.6-1 m deep). The locator's own
#: posterior (``PositionFix.p_inside``) is used when it has one; otherwise it is
#: computed from the fix (:func:`inside_probability`).
DEFAULT_ENTER_P = 0.975
#: Time the probability must stay >= ``enter_p``, seconds: two epochs at 1 Hz. A window
#: locator's fix is a fresh guess each epoch, its radius a spread rather than an error,
#: and a particle filter's posterior is a Monte Carlo estimate that spikes for an epoch
#: when its cloud is resampled: one such epoch is no visit. Measured, one epoch instead
#: of two: passers-by counted by the weighted centroid 0 -> 13 on the fashion store, by
#: the nearest beacon 7 -> 20 on the supermarket, by the tracker's posterior 12 -> 17
#: over the eight accuracy scenarios; the second epoch costs 1 s of enter latency.
DEFAULT_ENTER_MIN_S = 1.0
#: Probability of being inside that enters at once, without the ``enter_min_s`` hold: the
#: hold scaled by the strength of the evidence. The hold guards against one epoch of a
#: guess or of a resampled posterior reaching ``enter_p``; a fix much surer than that (a
#: zero-radius fix 0.70 m past the front, a posterior with under 1 % of its weight in the
#: street) is rarely such a spike. None: off, every enter waits for the hold. Measured on
#: the three planned stores (benchmarks/plan_door.py, 6 seeds; docs/planning.md "The
#: rules' own delay (issue 17.2)"): enter p50 0.4-0.6 s sooner with the tracker, 0.3-0.8 s
#: with true positions, p90 too, passers-by counted and extra visits unchanged; 0.999
#: hardly ever beats the hold (the tracker's posterior rises through 0.975 to 0.999 over
#: more than an epoch).
DEFAULT_ENTER_SURE_P: float | None = 0.99
#: Probability from which the ``enter_min_s`` hold may start, when lower than ``enter_p``;
#: None: ``enter_p`` (the hold's every epoch at ``enter_p``). An entrant's posterior rises
#: through the door in 2-3 epochs (fashion street plan: ~0.1, 0.8, 0.98, 0.999) and a
#: resampled spike comes out of a low one; so a fix at ``enter_p`` after one at
#: ``enter_lead_p`` or more enters, without a second epoch at ``enter_p``.
DEFAULT_ENTER_LEAD_P: float | None = None
#: ``enter_lead_p`` applies only to fixes within this distance along the shop front from
#: the entrance, metres; None: anywhere. The rise it shortens is a walk through the door;
#: a posterior that flips in through the window far from it (a passer-by under a street
#: radio) keeps the full hold. The tracker's fix lags its device: an entrant's first fix
#: inside lands up to ~5 m beside the door (street plans, benchmarks/plan_door.py).
DEFAULT_ENTER_LEAD_REACH_M: float | None = None
#: Uncertainty added (in quadrature) to a fix's own 1-sigma radius when the inside
#: probability is computed from the fix, metres. A radius reported as 0 (true positions,
#: a locator that gives none) would make every fix past the door line certain. 0.3 m is
#: the clearance passers-by keep from the front and half a body width around the phone:
#: a zero-radius fix must be 0.6 m deep (1.96 x 0.3 m) to count as inside at 0.975, so a
#: shopper walking the aisle along the window (~1 m deep) is seen entering (measured with
#: true positions on the supermarket: 3.5 s median enter latency, 12.2 s with the former
#: 1 m depth rule).
DEFAULT_ENTER_SIGMA_FLOOR_M = 0.3
#: Depth of the line the computed inside probability refers to, metres: 0, the shop front
#: itself (what a locator's own ``p_inside`` refers to). A positive value demands that
#: much more depth of fixes whose probability is computed (tests of the mechanics use
#: it with ``enter_p`` 0.5 to ignore the radius).
DEFAULT_ENTER_DEPTH_M = 0.0
#: A newly heard device's fixes are no evidence of entering for this long, seconds. A
#: particle filter starts spread over the floor and a window locator's first window
#: is partial: their first fixes land anywhere, with a radius that understates it.
#: Shoppers are heard from the street well before they reach the door (>= 9 s in every
#: reference store), so this costs them no latency; a device switched on inside enters
#: 10 s late. Applies to fixes without the locator's own posterior (``p_inside``); see
#: ``settle_posterior_s`` for those.
DEFAULT_SETTLE_S = 10.0
#: ``settle_s`` for fixes that carry the locator's posterior (``PositionFix.p_inside``),
#: seconds. A posterior carries its own uncertainty: the tracker starts a new device's
#: cloud with half its mass in the street (positioning.tracker.shopfront), so its first
#: posterior is not sure of "inside" on thin evidence, where a window locator's first
#: fixes and their radius are a guess. Its first seconds are still a few resamplings of a
#: fresh cloud: 5 s, not 0. Measured on the kept door days (benchmarks/plan_door.py, 6
#: seeds, docs/planning.md "Issue 17, session 28") and the reference days: no tracker
#: figure worse than at 10 s, a device switched on inside enters 5 s sooner. Fixes
#: without a posterior keep ``settle_s``: a noisy zero-radius fix of a passer-by 2 m out
#: reaches 0.7 m inside now and then (tests/positioning/test_store_presence.py).
DEFAULT_SETTLE_POSTERIOR_S = 5.0
#: Largest 1-sigma radius of a fix that counts as evidence of entering, metres: the depth
#: of the street band where passers-by walk (positioning.walkable). A fix less certain
#: than that cannot tell the street from the floor, however deep inside it lands: a
#: locator that has lost a passer-by puts it anywhere on the floor with a 5-10 m radius.
DEFAULT_ENTER_MAX_SIGMA_M = DEFAULT_STREET_DEPTH_M
#: How far along the shop front from the entrance a fix may first come inside and still be
#: taken for a walk through the door, metres; None: off (any crossing). People cross the
#: front only at the entrance, but a posterior may flip across the glass anywhere (the
#: tracker lets particles jump it, for a device first heard inside): a passer-by walking
#: under a street radio far from the door then seems to step in through the window. A fix
#: that came inside farther than this from the entrance is evidence of entering only
#: ``enter_far_depth_m`` deep, past the window aisle where a flipped passer-by's fix lands.
#: The tracker's fix lags its device, so an entrant's first fix inside lands up to ~5 m
#: beside the door (measured on the street plans, benchmarks/plan_door.py).
DEFAULT_ENTER_DOOR_REACH_M: float | None = None
#: Depth a fix that came inside away from the entrance must reach to count, metres (see
#: ``enter_door_reach_m``).
DEFAULT_ENTER_FAR_DEPTH_M = 3.0
#: A fix that came inside away from the entrance still counts as a walk through the door
#: when it was within ``enter_door_reach_m`` of the entrance (on either side) this many
#: seconds before, seconds: a lagging fix slides along the street past the door and flips
#: in farther along, behind a shopper walking the window aisle. 0: only the crossing fix.
DEFAULT_ENTER_DOOR_MEMORY_S = 0.0
#: Instead of waiting for ``enter_far_depth_m``, a fix that came inside away from the
#: entrance also counts once its probability has held this long, seconds; None: only the
#: depth. A flipped passer-by's posterior holds for a few epochs, an entrant's for good.
DEFAULT_ENTER_FAR_HOLD_S: float | None = None
#: Distance into the street that counts as outside, metres. The enter test needs the
#: fix > 0.6 m deep (and > 1.96 sigma), so the hysteresis gap is > 1.6 m, which keeps a
#: shopper browsing by the door from flapping.
DEFAULT_EXIT_DEPTH_M = 1.0
#: Time in the street before an exit is declared, seconds: three fixes at 1 Hz.
DEFAULT_EXIT_MIN_S = 2.0
#: Largest probability of being inside (the locator's own posterior, ``PositionFix.p_inside``)
#: at which a fix in the street counts towards an exit; None: off (the fix's depth alone).
#: 1 - ``enter_p``: the exit needs the posterior as sure of the street as the enter needs
#: it sure of the store. On the fix's depth alone an exit needs only the cloud's mean 1 m
#: out, which a cloud split across the front (15-50 % of its weight still inside) reaches
#: for a few epochs while its device is inside, and the visit splits in two. Measured on
#: the kept door days (benchmarks/door_exits.py, plan_door.py; docs/planning.md "Issue 17,
#: session 30"): no street exit of the tracker, right or wrong, held ``p_inside`` near 0
#: over its street run (mostly 0.1-0.55), so with the tracker this leaves the exit to the
#: away timeout; extra visits 2 -> 0 (showroom as hung), 2 -> 1, 7 -> 6 (street plans), 2 -> 0
#: over the simulated reference days; exit latency +0.1 s (showroom as hung, fashion
#: street plan) and +0.6 s (supermarket street plan), the reference days' unchanged. Fixes without a posterior
#: (window locators, true positions) keep the depth rule.
DEFAULT_EXIT_P: float | None = 0.025
#: Reception gap after which an unheard device has left, seconds. Phone scanners report
#: about once a second per beacon (iOS ranging, Android balanced mode delivers in
#: batches of a few seconds); 15 s is three missed 5 s batches, and leaves room in the
#: 30 s exit-latency target for the time a leaving device is still heard outside.
DEFAULT_AWAY_TIMEOUT_S = 15.0
#: Reception gap that ends a visit in a place without a door, seconds. There nobody is
#: heard walking away in a street first: the away timeout is the only end of a visit, and
#: it may take the whole 30 s exit-latency target that a shop shares between the timeout
#: and the time a leaving device is still heard outside. A device lying or standing still
#: in a room drops out for longer than a walker does (a body or furniture shadows it, a
#: scanner pauses): the real robot recording (kolakowski-robot) has a 19.4 s gap while
#: the tag stood in the flat, which 15 s split into two visits.
DEFAULT_DOORLESS_AWAY_TIMEOUT_S = 30.0
#: Visit length that marks staff, seconds (4 h): shopping visits last minutes to an
#: hour, a retail shift 4-8 h.
DEFAULT_STAFF_AFTER_S = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class StoreParams:
    enter_p: float = DEFAULT_ENTER_P
    enter_min_s: float = DEFAULT_ENTER_MIN_S
    enter_sure_p: float | None = DEFAULT_ENTER_SURE_P
    enter_lead_p: float | None = DEFAULT_ENTER_LEAD_P
    enter_lead_reach_m: float | None = DEFAULT_ENTER_LEAD_REACH_M
    enter_sigma_floor_m: float = DEFAULT_ENTER_SIGMA_FLOOR_M
    enter_depth_m: float = DEFAULT_ENTER_DEPTH_M
    settle_s: float = DEFAULT_SETTLE_S
    settle_posterior_s: float = DEFAULT_SETTLE_POSTERIOR_S
    enter_max_sigma_m: float = DEFAULT_ENTER_MAX_SIGMA_M
    exit_depth_m: float = DEFAULT_EXIT_DEPTH_M
    enter_door_reach_m: float | None = DEFAULT_ENTER_DOOR_REACH_M
    enter_far_depth_m: float = DEFAULT_ENTER_FAR_DEPTH_M
    enter_door_memory_s: float = DEFAULT_ENTER_DOOR_MEMORY_S
    enter_far_hold_s: float | None = DEFAULT_ENTER_FAR_HOLD_S
    exit_min_s: float = DEFAULT_EXIT_MIN_S
    exit_p: float | None = DEFAULT_EXIT_P
    away_timeout_s: float = DEFAULT_AWAY_TIMEOUT_S
    doorless_away_timeout_s: float = DEFAULT_DOORLESS_AWAY_TIMEOUT_S
    staff_after_s: float = DEFAULT_STAFF_AFTER_S


@dataclass(frozen=True, slots=True)
class StoreChange:
    """The device entered (``entered``) or left the store at ``t_s`` (the crossing)."""

    entered: bool
    t_s: float
    x_m: float
    y_m: float
    visit_start_s: float
    reason: str  # "depth" ("heard" without a door), "street", "timeout" or "end"


class EntranceDepth:
    """Signed depth of points into the store across the entrance side, metres."""

    __slots__ = ("_axis", "_origin", "_sign", "_span")

    def __init__(self, layout: Layout) -> None:
        self._axis, self._origin, self._sign = -1, 0.0, 1.0
        self._span = (0.0, 0.0)
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
        along = layout.entrance[:, 1 - self._axis]
        self._span = (float(along.min()), float(along.max()))

    def beside_m(self, x_m: float, y_m: float) -> float:
        """Distance along the shop front from the entrance (0 in front of or behind it), m;
        0 without a street."""
        if self._axis < 0:
            return 0.0
        along = y_m if self._axis == 0 else x_m
        return max(self._span[0] - along, along - self._span[1], 0.0)

    @property
    def has_street(self) -> bool:
        return self._axis >= 0

    def __call__(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self._axis < 0:
            return np.full(len(p), math.inf)
        return np.asarray(self._sign * (p[:, self._axis] - self._origin))


def inside_probability(depth_m: float, sigma_m: float, floor_m: float) -> float:
    """Probability that a device whose fix lies ``depth_m`` into the store is inside (depth > 0):
    a normal error across the shop front with spread hypot(sigma_m, floor_m). The 1-sigma
    radius stands for the spread across the front (conservative: for a round error cloud
    the spread along one axis is the radius / sqrt 2). A layout without a street (depth
    +inf) is inside; a spread of 0 gives 1 past the front, 0 before it."""
    if math.isinf(depth_m):
        return 1.0 if depth_m > 0 else 0.0
    spread_m = math.hypot(sigma_m, floor_m) if math.isfinite(sigma_m) else math.inf
    if spread_m == 0.0:
        return 1.0 if depth_m > 0.0 else 0.0
    return 0.5 * math.erfc(-depth_m / (spread_m * math.sqrt(2.0)))


class StorePresence:
    """Store state of one device; :meth:`update` per fix, :meth:`tick` per epoch unheard.

    ``has_street`` False: a place without a door, where every fix is evidence of being
    inside and ``doorless_away_timeout_s`` is the away timeout."""

    __slots__ = (
        "_p",
        "_street",
        "_away_s",
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
        "_door",
        "_came_in_far",
        "_near_door_s",
    )

    def __init__(
        self, params: StoreParams, has_street: bool = True, door: EntranceDepth | None = None
    ) -> None:
        """``door``: the entrance, for ``enter_door_reach_m`` (None: that test is off)."""
        self._p = params
        self._street = has_street
        self._door = door
        self._came_in_far = False  # the fix last came inside away from the entrance
        self._near_door_s = -math.inf  # last fix within enter_door_reach_m of the entrance
        self._away_s = params.away_timeout_s if has_street else params.doorless_away_timeout_s
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
        self,
        t_s: float,
        x_m: float,
        y_m: float,
        depth_m: float,
        sigma_m: float = 0.0,
        p_inside: float = math.nan,
    ) -> StoreChange | None:
        """One fix at ``depth_m`` into the store with 1-sigma radius ``sigma_m``; ``p_inside``
        is the locator's probability that the device is inside (NaN: computed from the fix)."""
        if t_s - self.last_heard_s >= self._away_s:
            self._was_in, self._cross_s, self._first_s = False, t_s, t_s
        is_in = depth_m > 0.0
        if is_in != self._was_in:
            self._cross_s = t_s
        reach = self._p.enter_door_reach_m
        if reach is not None and self._door is not None:
            if self._door.beside_m(x_m, y_m) <= reach:
                self._near_door_s = t_s
            if is_in and not self._was_in:
                self._came_in_far = t_s - self._near_door_s > self._p.enter_door_memory_s
        self._was_in = is_in
        self.last_heard_s, self._last_xy = t_s, (x_m, y_m)
        if self.inside:
            return self._update_inside(t_s, x_m, y_m, depth_m, p_inside)
        p = self._inside_p(t_s, depth_m, sigma_m, p_inside)
        if not p >= self._lead_p(x_m, y_m):
            self._deep_s = math.nan
            return None
        if math.isnan(self._deep_s):
            self._deep_s = t_s
        if not p >= self._p.enter_p:
            return None  # the hold has begun, the evidence is not yet enough
        if self._far_hold_s(depth_m) > t_s - self._deep_s + 1e-9:
            return None
        sure = self._p.enter_sure_p is not None and p >= self._p.enter_sure_p
        if self._street and not sure and t_s - self._deep_s + 1e-9 < self._p.enter_min_s:
            return None
        # dated to the fix's door crossing; a posterior confident of "inside" while its fix
        # still lies in the street has no crossing yet: dated to the confident run's start
        start_s = self._cross_s if is_in else self._deep_s
        self.inside, self.visit_start_s, self._street_s = True, start_s, math.nan
        return StoreChange(True, start_s, x_m, y_m, start_s, "depth" if self._street else "heard")

    def _lead_p(self, x_m: float, y_m: float) -> float:
        """The probability a fix at (x, y) needs to start or continue the enter hold."""
        lead, reach = self._p.enter_lead_p, self._p.enter_lead_reach_m
        if lead is None:
            return self._p.enter_p
        if reach is not None and self._door is not None and self._door.beside_m(x_m, y_m) > reach:
            return self._p.enter_p
        return min(lead, self._p.enter_p)

    def _inside_p(self, t_s: float, depth_m: float, sigma_m: float, p_inside: float) -> float:
        """The fix's probability of being inside as evidence of entering: 0 for a fix that
        is no evidence (unsettled device, radius too large), 1 where there is no street."""
        if not self._street:
            return 1.0
        has_posterior = not math.isnan(p_inside)
        settle_s = self._p.settle_posterior_s if has_posterior else self._p.settle_s
        if t_s - self._first_s < settle_s or not sigma_m <= self._p.enter_max_sigma_m:
            return 0.0
        if self._far_hold_s(depth_m) == math.inf:
            return 0.0  # came in through the window, not (yet) seen past the window aisle
        if not has_posterior:
            p_inside = inside_probability(
                depth_m - self._p.enter_depth_m, sigma_m, self._p.enter_sigma_floor_m
            )
        return p_inside

    def _far_hold_s(self, depth_m: float) -> float:
        """How long a fix that came in through the window, not yet past the window aisle,
        must hold: 0 for any other fix, inf when only the depth counts."""
        if not self._came_in_far or depth_m >= self._p.enter_far_depth_m:
            return 0.0
        hold = self._p.enter_far_hold_s
        return math.inf if hold is None else hold

    def _update_inside(
        self, t_s: float, x_m: float, y_m: float, depth_m: float, p_inside: float
    ) -> StoreChange | None:
        if t_s - self.visit_start_s >= self._p.staff_after_s:
            self.staff = True
        exit_p = self._p.exit_p
        unsure = exit_p is not None and self._street and p_inside > exit_p  # NaN: no posterior
        if depth_m > -self._p.exit_depth_m or unsure:
            self._street_s = math.nan
            return None
        if math.isnan(self._street_s):
            self._street_s = t_s
        if t_s - self._street_s + 1e-9 < self._p.exit_min_s:
            return None
        return self._leave(max(self._cross_s, self.visit_start_s), x_m, y_m, "street")

    def tick(self, t_s: float, last_row_s: float) -> StoreChange | None:
        """Each epoch: an exit when no row of the device arrived for the away timeout."""
        if self.inside and t_s - last_row_s >= self._away_s:
            when = min(max(last_row_s, self.visit_start_s), self.last_heard_s)
            # gone: its next fix starts afresh, even when the locator's fixes (reported for
            # their window after the last row) and the next ones are less than the timeout
            # apart; else the next visit would be dated to this one's crossing
            self.last_heard_s = -math.inf
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
