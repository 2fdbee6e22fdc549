"""Ground truth tables: store visits, zone visits and dwells, from the planned trajectories.

Definitions (also in docs/simulator.md):

- **visit**: a person's time inside the store, from crossing the shop front through the
  entrance inwards (``enter_t``) to crossing it outwards (``exit_t``). A time outside the
  simulated window is null (staff are in before it starts; a shopper may still be in
  when it ends). Passers-by walk the street and never enter: both are null.
- **zone visit**: a maximal run of 5 Hz truth samples inside one zone; ``exit_t`` is the
  first sample outside it (null when the run reaches the end of the window).
- **dwell**: the person stands still (a planned stop: at goods, fitting room, queue,
  till; staff at their posts) in one zone for at least :data:`DWELL_MIN_S`; stops in the
  same zone separated by less than :data:`DWELL_MERGE_GAP_S` of walking count as one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from positioning.layout import Layout
from positioning.zonemap import ZoneLookup
from sim.population import Population
from sim.trajectory import Stop
from sim.venue import Venue

__all__ = [
    "AGENT_BATCH",
    "DWELL_MERGE_GAP_S",
    "DWELL_MIN_S",
    "FloatArray",
    "dwells_table",
    "merge_stops",
    "visits_table",
    "zone_visits_table",
]

FloatArray = npt.NDArray[np.float64]

#: Shortest stop that counts as a dwell: engagement with goods, not a pause in a crowd.
DWELL_MIN_S = 20.0
#: People per vectorised pass when deriving zone visits (bounds memory on long days).
AGENT_BATCH = 200
#: Walking between two stops in one zone shorter than this does not break the dwell.
DWELL_MERGE_GAP_S = 10.0


def _crossings(
    venue: Venue, t: npt.NDArray[np.float64], xy: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """First inward and last outward crossing times of the shop front (nan when none)."""
    s = xy @ venue.inward - venue.front_offset_m
    inside = s > 0
    change = np.flatnonzero(inside[1:] != inside[:-1])
    if len(change) == 0:
        return float("nan"), float("nan")
    frac = s[change] / (s[change] - s[change + 1])
    when = t[change] + frac * (t[change + 1] - t[change])
    inward = inside[change + 1]
    enter = when[inward][0] if inward.any() else float("nan")
    exit_ = when[~inward][-1] if (~inward).any() else float("nan")
    return float(enter), float(exit_)


def _in_window(t: float, start: float, end: float) -> float:
    return t if start <= t < end else float("nan")


def visits_table(pop: Population, venue: Venue, start: float, end: float) -> pa.Table:
    tr = pop.trajectories
    rows: dict[str, list[object]] = {
        k: [] for k in ("device_id", "kind", "persona", "enter_t", "exit_t", "visible")
    }
    for a, agent in enumerate(pop.agents):
        lo, hi = int(tr.offsets[a]), int(tr.offsets[a + 1])
        if agent.kind == "staff":
            enter, exit_ = start, float("nan")
        else:
            xy = np.column_stack([tr.x[lo:hi], tr.y[lo:hi]])
            enter, exit_ = _crossings(venue, tr.t[lo:hi], xy)
        if agent.kind == "shopper" and not start <= tr.t[lo] < end:
            continue
        rows["device_id"].append(agent.device_id)
        rows["kind"].append(agent.kind)
        rows["persona"].append(agent.persona)
        rows["enter_t"].append(_in_window(enter, start, end))
        rows["exit_t"].append(_in_window(exit_, start, end))
        rows["visible"].append(agent.visible)
    return pa.table(
        {
            "device_id": pa.array(rows["device_id"], pa.string()),
            "kind": pa.array(rows["kind"], pa.string()),
            "persona": pa.array(rows["persona"], pa.string()),
            "enter_t": pa.array(rows["enter_t"], pa.float64(), from_pandas=True),
            "exit_t": pa.array(rows["exit_t"], pa.float64(), from_pandas=True),
            "visible": pa.array(rows["visible"], pa.bool_()),
        }
    )


def zone_visits_table(
    pop: Population, layout: Layout, start: float, end: float, rate_hz: float
) -> pa.Table:
    """Runs of 5 Hz samples in one zone, computed for AGENT_BATCH people at a time."""
    tr = pop.trajectories
    dt = 1.0 / rate_hz
    names = np.asarray([z.name for z in layout.zones], dtype=object)
    zones = ZoneLookup(layout)
    people = np.asarray(
        [a for a, p in enumerate(pop.agents) if p.kind != "passerby"], dtype=np.int64
    )
    ids = pop.device_ids
    parts: list[tuple[npt.NDArray[np.str_], npt.NDArray[np.object_], FloatArray, FloatArray]] = []
    for batch in np.array_split(people, max(1, int(np.ceil(len(people) / AGENT_BATCH)))):
        k0 = np.ceil((np.maximum(start, tr.start_t[batch]) - start) / dt - 1e-9)
        k1 = np.floor((np.minimum(end, tr.end_t[batch] + 1e-9) - start) / dt - 1e-9) + 1
        n = np.maximum(k1 - k0, 0).astype(np.int64)
        agent = np.repeat(batch, n)
        t = start + (np.repeat(k0, n) + np.arange(len(agent)) - np.repeat(np.cumsum(n) - n, n)) * dt
        zone = zones.zone_of(tr.sample(agent, t)[0])
        new_run = np.ones(len(agent), dtype=bool)
        new_run[1:] = (agent[1:] != agent[:-1]) | (zone[1:] != zone[:-1])
        first = np.flatnonzero(new_run)
        after = np.append(first[1:], len(agent))
        first, after = first[zone[first] >= 0], after[zone[first] >= 0]
        same = after < len(agent)
        same[same] = agent[after[same]] == agent[first[same]]
        exit_t = np.where(same, t[np.minimum(after, len(agent) - 1)], np.nan)
        parts.append((ids[agent[first]], names[zone[first]], t[first], exit_t))
    cols = [np.concatenate([p[i] for p in parts]) if parts else np.empty(0) for i in range(4)]
    return pa.table(
        {
            "device_id": pa.array(cols[0].astype(str), pa.string()),
            "zone": pa.array(cols[1].astype(str), pa.string()),
            "enter_t": pa.array(cols[2].astype(np.float64), pa.float64()),
            "exit_t": pa.array(cols[3].astype(np.float64), pa.float64(), from_pandas=True),
        }
    )


def dwells_table(pop: Population, layout: Layout, start: float, end: float) -> pa.Table:
    out: dict[str, list[object]] = {"device_id": [], "zone": [], "start_t": [], "end_t": []}
    zones = ZoneLookup(layout)
    for agent, stops in zip(pop.agents, pop.stops, strict=True):
        for zone, t0, t1 in merge_stops(stops, layout, zones):
            t0, t1 = max(t0, start), min(t1, end)
            if zone and t1 - t0 >= DWELL_MIN_S:
                out["device_id"].append(agent.device_id)
                out["zone"].append(zone)
                out["start_t"].append(t0)
                out["end_t"].append(t1)
    return pa.table(
        {
            "device_id": pa.array(out["device_id"], pa.string()),
            "zone": pa.array(out["zone"], pa.string()),
            "start_t": pa.array(out["start_t"], pa.float64()),
            "end_t": pa.array(out["end_t"], pa.float64()),
        }
    )


def merge_stops(
    stops: tuple[Stop, ...], layout: Layout, lookup: ZoneLookup | None = None
) -> list[tuple[str, float, float]]:
    """(zone, start, end) of stops merged per zone across short walks; zone "" outside zones."""
    if not stops:
        return []
    xy = np.asarray([[s.x_m, s.y_m] for s in stops])
    names = [z.name for z in layout.zones]
    zones = [names[i] if i >= 0 else "" for i in (lookup or ZoneLookup(layout)).zone_of(xy)]
    merged: list[tuple[str, float, float]] = []
    for zone, stop in zip(zones, stops, strict=True):
        if merged and merged[-1][0] == zone and stop.start_t - merged[-1][2] < DWELL_MERGE_GAP_S:
            merged[-1] = (zone, merged[-1][1], stop.end_t)
        else:
            merged.append((zone, stop.start_t, stop.end_t))
    return merged
