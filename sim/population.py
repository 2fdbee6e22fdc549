"""The day's population: every agent, its device and its whole trajectory, from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.crowd import Agent, Planner, arrival_times, checkout_queue
from sim.params import SimConfig
from sim.trajectory import Stop, Trajectories, Walker
from sim.venue import Venue

__all__ = ["Population", "build_population", "device_ids"]


@dataclass(frozen=True, slots=True)
class Population:
    agents: tuple[Agent, ...]
    trajectories: Trajectories
    stops: tuple[tuple[Stop, ...], ...]

    @property
    def visible(self) -> np.ndarray:
        return np.asarray([a.visible for a in self.agents], dtype=bool)

    @property
    def device_ids(self) -> np.ndarray:
        return np.asarray([a.device_id for a in self.agents], dtype=str)


def device_ids(n: int, rng: np.random.Generator) -> list[str]:
    """n distinct pseudonymous ids of 8 hex digits (some look numeric: ids are strings)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        for v in rng.integers(0, 2**32, size=max(2 * (n - len(out)), 8)):
            s = f"{int(v):08x}"
            if s not in seen and len(out) < n:
                seen.add(s)
                out.append(s)
    return out


def build_population(venue: Venue, config: SimConfig, seeds: np.random.SeedSequence) -> Population:
    """Shoppers, passers-by and staff; independent random streams so one does not shift another."""
    s_shop, s_pass, s_staff, s_dev = (np.random.default_rng(s) for s in seeds.spawn(4))
    crowd = config.crowd
    end = config.start_s + config.duration_s
    walkers: list[Walker] = []
    meta: list[tuple[str, str]] = []

    shop_planner = Planner(venue, crowd, s_shop)
    times = arrival_times(
        config.shoppers, config.start_s, config.duration_s, crowd.hourly_profile, s_shop
    )
    personas = np.where(s_shop.random(len(times)) < crowd.functional_share, "functional", "fun")
    buyers: list[int] = []
    for t, persona in zip(times, personas, strict=True):
        walker, buys = shop_planner.shopper_until_checkout(float(t), str(persona))
        if buys:
            buyers.append(len(walkers))
        walkers.append(walker)
        meta.append(("shopper", str(persona)))
    service = crowd.checkout_median_s * np.exp(
        crowd.checkout_log_sigma * s_shop.standard_normal(len(buyers))
    )
    arrived = np.asarray([walkers[i].t for i in buyers])
    queue = checkout_queue(arrived, crowd.checkout_servers, service, crowd.checkout_max_queue)
    for j, i in enumerate(buyers):
        shop_planner.pay(
            walkers[i],
            float(queue.wait_s[j]),
            queue.ahead_starts[j],
            int(queue.till[j]),
            float(service[j]),
        )
    for walker in walkers:
        shop_planner.leave(walker)

    pass_planner = Planner(venue, crowd, s_pass)
    n_pass = int(round(crowd.passersby_per_shopper * config.shoppers))
    for t in arrival_times(n_pass, config.start_s, config.duration_s, crowd.hourly_profile, s_pass):
        walkers.append(pass_planner.passerby(float(t)))
        meta.append(("passerby", ""))

    staff_planner = Planner(venue, crowd, s_staff)
    area_m2 = venue.layout.width_m * venue.layout.height_m
    for _ in range(max(1, int(round(area_m2 / 100.0 * crowd.staff_per_100m2)))):
        walkers.append(staff_planner.staff(config.start_s, end))
        meta.append(("staff", ""))

    ids = device_ids(len(walkers), s_dev)
    seen = s_dev.random(len(walkers)) < crowd.visible_share
    offsets = s_dev.normal(0.0, config.radio.device_offset_sigma_db, len(walkers))
    agents = tuple(
        Agent(ids[i], kind, persona, bool(seen[i]) or kind == "staff", float(offsets[i]))
        for i, (kind, persona) in enumerate(meta)
    )
    stops = tuple(tuple(w.stops) for w in walkers)
    return Population(agents, Trajectories.from_walkers(walkers, config.start_s), stops)
