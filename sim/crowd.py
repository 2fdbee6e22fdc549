"""People: shoppers (functional and fun personas), passers-by and staff, and their plans.

Arrivals follow a non-homogeneous Poisson process whose intensity is the hourly
profile of :class:`~sim.params.CrowdParams`; given the number of shoppers N, the
arrival times of such a process are N independent draws from the normalised
intensity (the order-statistics property), which is how they are drawn here.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.params import CrowdParams
from sim.trajectory import Walker
from sim.venue import Venue

__all__ = [
    "Agent",
    "BROWSE_SPEED_FACTOR",
    "FloatArray",
    "KINDS",
    "Planner",
    "QueueOutcome",
    "SPEED_RANGE_MPS",
    "STAFF_START_SPREAD_S",
    "arrival_times",
    "checkout_queue",
]

FloatArray = npt.NDArray[np.float64]
KINDS = ("shopper", "passerby", "staff")
#: Slowest and fastest walker, m/s (Bohannon 1997: 10th-90th percentiles of gait speed).
SPEED_RANGE_MPS = (0.6, 1.8)
#: Fun shoppers stroll between displays at this fraction of their walking speed.
BROWSE_SPEED_FACTOR = 0.75
#: Seconds between a staff member's stops at the start of the day, spread so staff do not move together.
STAFF_START_SPREAD_S = 120.0


@dataclass(frozen=True, slots=True)
class Agent:
    device_id: str
    kind: str  # shopper | passerby | staff
    persona: str  # functional | fun for shoppers, "" otherwise
    visible: bool
    device_offset_db: float


def arrival_times(
    n: int, start_s: float, duration_s: float, profile: tuple[float, ...], rng: np.random.Generator
) -> FloatArray:
    """n sorted arrival times in [start, start + duration) from the hourly intensity profile."""
    if n == 0:
        return np.empty(0)
    edges = np.arange(np.floor(start_s / 3600.0) * 3600.0, start_s + duration_s + 3600.0, 3600.0)
    lo = np.clip(edges[:-1], start_s, start_s + duration_s)
    hi = np.clip(edges[1:], start_s, start_s + duration_s)
    hours = ((edges[:-1] // 3600.0) % 24).astype(int)
    weight = np.asarray(profile)[hours] * (hi - lo)
    if weight.sum() <= 0:
        weight = hi - lo
    bins = rng.choice(len(weight), size=n, p=weight / weight.sum())
    return np.sort(lo[bins] + rng.random(n) * (hi[bins] - lo[bins]))


def _lognormal(rng: np.random.Generator, median_s: float, sigma: float) -> float:
    return float(median_s * np.exp(sigma * rng.standard_normal()))


def _speed(rng: np.random.Generator, mean: float, sigma: float) -> float:
    return float(np.clip(rng.normal(mean, sigma), *SPEED_RANGE_MPS))


class Planner:
    """Turns people into Walkers (knots and stops) on a venue."""

    def __init__(self, venue: Venue, crowd: CrowdParams, rng: np.random.Generator) -> None:
        self.venue = venue
        self.crowd = crowd
        self.rng = rng
        self.zone_names = sorted(venue.zone_stops)
        centroids = [venue.planner.position(venue.zone_stops[z][0]) for z in self.zone_names]
        self.zone_centre = np.asarray(centroids)

    def _go(self, walker: Walker, node: int, factor: float = 1.0) -> None:
        here = walker.node if walker.node is not None else self.venue.planner.node(walker.xy)
        walker.walk(self.venue.planner.route(here, node), factor)
        walker.node = node

    def passerby(self, t0: float) -> Walker:
        lane = self.venue.street_ends[int(self.rng.integers(len(self.venue.street_ends)))]
        a, b = lane if self.rng.random() < 0.5 else lane[::-1]
        planner = self.venue.planner
        walker = Walker(
            t0,
            planner.position(a),
            _speed(self.rng, self.crowd.street_speed_mean_mps, 0.2),
            self.rng,
        )
        walker.walk(planner.route(a, b))
        return walker

    def shopper_until_checkout(self, t0: float, persona: str) -> tuple[Walker, bool]:
        """Walk in and shop; returns the walker and whether it now queues to pay."""
        c, rng = self.crowd, self.rng
        lane = self.venue.street_ends[int(rng.integers(len(self.venue.street_ends)))]
        start = lane[int(rng.integers(2))]
        walker = Walker(
            t0,
            self.venue.planner.position(start),
            _speed(rng, c.walk_speed_mean_mps, c.walk_speed_sigma_mps),
            rng,
        )
        walker.node = start
        if persona == "functional":
            k = int(rng.integers(c.functional_targets[0], c.functional_targets[1] + 1))
            for zone in rng.choice(
                self.zone_names, size=min(k, len(self.zone_names)), replace=False
            ):
                self._go(walker, self._stop_in(str(zone)))
                walker.stay(
                    _lognormal(rng, c.functional_stop_median_s, c.stop_log_sigma), "product"
                )
        else:
            k = int(rng.integers(c.fun_zones[0], c.fun_zones[1] + 1))
            for zone in self._tour(walker.xy, min(k, len(self.zone_names))):
                for _ in range(
                    int(rng.integers(c.fun_stops_per_zone[0], c.fun_stops_per_zone[1] + 1))
                ):
                    self._go(walker, self._stop_in(zone), BROWSE_SPEED_FACTOR)
                    walker.stay(_lognormal(rng, c.fun_stop_median_s, c.stop_log_sigma), "product")
        fitting_p = c.fitting_prob_functional if persona == "functional" else c.fitting_prob_fun
        if self.venue.fitting and rng.random() < fitting_p:
            self._go(walker, self.venue.fitting[int(rng.integers(len(self.venue.fitting)))])
            walker.stay(_lognormal(rng, c.fitting_median_s, c.fitting_log_sigma), "fitting")
        buy_p = c.buy_prob_functional if persona == "functional" else c.buy_prob_fun
        buys = bool(self.venue.tills) and rng.random() < buy_p
        if buys:
            self._go(walker, self.venue.queue[-1])  # the end of the queue
        return walker, buys

    def pay(
        self,
        walker: Walker,
        wait_s: float,
        ahead_starts: tuple[float, ...],
        till: int,
        service_s: float,
    ) -> None:
        """Queue behind the people ahead, move up as each is served, pay at the till."""
        if till < 0:
            return  # the queue was too long: gives up and leaves
        queue = self.venue.queue
        if wait_s > 0 and queue:
            served_at = walker.t + wait_s
            for k, start in enumerate((*ahead_starts, served_at)):
                self._go(walker, queue[min(len(ahead_starts) - k, len(queue) - 1)])
                walker.stay(max(start - walker.t, 0.0), "queue")
        self._go(walker, self.venue.tills[till % len(self.venue.tills)])
        walker.stay(service_s, "till")

    def leave(self, walker: Walker) -> None:
        lane = self.venue.street_ends[int(self.rng.integers(len(self.venue.street_ends)))]
        self._go(walker, lane[int(self.rng.integers(2))])

    def staff(self, t0: float, t_end: float) -> Walker:
        rng, c = self.rng, self.crowd
        nodes = [n for z in self.zone_names for n in self.venue.zone_stops[z]] + list(
            self.venue.tills
        )
        first = nodes[int(rng.integers(len(nodes)))]
        walker = Walker(t0, self.venue.planner.position(first), _speed(rng, 1.0, 0.1), rng)
        walker.node = first
        walker.stay(rng.random() * STAFF_START_SPREAD_S, "staff")
        while walker.t < t_end:
            self._go(walker, nodes[int(rng.integers(len(nodes)))])
            walker.stay(_lognormal(rng, c.staff_stop_median_s, c.stop_log_sigma), "staff")
        return walker

    def _stop_in(self, zone: str) -> int:
        stops = self.venue.zone_stops[zone]
        return stops[int(self.rng.integers(len(stops)))]

    def _tour(self, xy: FloatArray, k: int) -> list[str]:
        """k zones chosen at random, visited nearest-first (people do not criss-cross a shop)."""
        chosen = list(self.rng.choice(len(self.zone_names), size=k, replace=False))
        order: list[str] = []
        here = xy
        while chosen:
            d = [float(np.hypot(*(self.zone_centre[i] - here))) for i in chosen]
            i = chosen.pop(int(np.argmin(d)))
            order.append(self.zone_names[i])
            here = self.zone_centre[i]
        return order


@dataclass(frozen=True, slots=True)
class QueueOutcome:
    """Per buyer (in the order given): wait before service, till, and the service start
    times of the people still waiting ahead on arrival (it moves up as each one starts).
    ``till`` is -1 for a buyer who gave up (``max_queue`` or more ahead)."""

    wait_s: FloatArray
    till: npt.NDArray[np.int64]
    ahead_starts: tuple[tuple[float, ...], ...]


def checkout_queue(
    arrivals_s: FloatArray, servers: int, service_s: FloatArray, max_queue: int
) -> QueueOutcome:
    """A FIFO queue served by ``servers`` tills, with balking."""
    order = np.argsort(arrivals_s, kind="stable")
    free = [(float("-inf"), s) for s in range(max(servers, 1))]
    heapq.heapify(free)
    n = len(arrivals_s)
    wait, till = np.zeros(n), np.full(n, -1, dtype=np.int64)
    ahead: list[tuple[float, ...]] = [()] * n
    waiting: deque[float] = deque()  # service starts still ahead; FIFO keeps them sorted
    for i in order:
        arrival = float(arrivals_s[i])
        while waiting and waiting[0] <= arrival:
            waiting.popleft()
        ahead[i] = tuple(waiting)
        if len(waiting) >= max_queue:
            continue
        t_free, s = heapq.heappop(free)
        start = max(arrival, t_free)
        wait[i], till[i] = start - arrival, s
        heapq.heappush(free, (start + float(service_s[i]), s))
        if start > arrival:
            waiting.append(start)
    return QueueOutcome(wait, till, tuple(ahead))
