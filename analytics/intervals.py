"""Visits, zone visits and dwells as interval frames, from presence events or from tracks.

Every interval frame has the columns ``device_id`` (category), ``zone`` (str, "" for store
visits), ``start_s``, ``end_s`` and ``duration_s`` (epoch seconds on the observations' clock).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from positioning.errors import PositioningError
from positioning.events import DWELL_END, STORE_ENTER, STORE_EXIT, ZONE_EXIT, PresenceEvent
from positioning.layout import Layout

INTERVAL_COLUMNS = ("device_id", "zone", "start_s", "end_s", "duration_s")


def empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": pd.Categorical([]),
            "zone": pd.Series([], dtype=object),
            "start_s": pd.Series([], dtype=np.float64),
            "end_s": pd.Series([], dtype=np.float64),
            "duration_s": pd.Series([], dtype=np.float64),
        }
    )


def make_intervals(
    device_id: Iterable[str], zone: Iterable[str], start_s: Iterable[float], end_s: Iterable[float]
) -> pd.DataFrame:
    """An interval frame sorted by (start_s, device_id)."""
    frame = pd.DataFrame(
        {
            "device_id": pd.Categorical(np.asarray(list(device_id), dtype=object)),
            "zone": np.asarray(list(zone), dtype=object),
            "start_s": np.asarray(list(start_s), dtype=np.float64),
            "end_s": np.asarray(list(end_s), dtype=np.float64),
        }
    )
    if frame.empty:
        return empty_intervals()
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    return frame.sort_values(["start_s", "device_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class EventIntervals:
    """Intervals closed by exit/end events, plus what the events file told us besides."""

    visits: pd.DataFrame
    zone_visits: pd.DataFrame
    dwells: pd.DataFrame
    #: devices with a store.enter event (visitors, even when their exit is missing)
    entered: frozenset[str]
    events: int
    duplicates: int
    #: (line number, reason) of lines that are not presence events; they are skipped
    malformed: tuple[tuple[int, str], ...]


def intervals_from_events(
    events: Iterable[PresenceEvent], ids: Iterable[str] | None = None
) -> EventIntervals:
    """Build intervals from closing events (exit/end carry ``duration_s``), deduplicated by id.

    At-least-once delivery on the bus may repeat an event; its id is stable, so a repeat is
    counted once. ``ids`` (one per event) saves recomputing ids already checked.
    """
    seen: set[str] = set()
    entered: set[str] = set()
    rows: dict[str, list[tuple[str, str, float, float]]] = {
        STORE_EXIT: [],
        ZONE_EXIT: [],
        DWELL_END: [],
    }
    total = duplicates = 0
    id_iter = iter(ids) if ids is not None else None
    for event in events:
        total += 1
        eid = next(id_iter) if id_iter is not None else event.id
        if eid in seen:
            duplicates += 1
            continue
        seen.add(eid)
        if event.type == STORE_ENTER:
            entered.add(event.device_id)
        bucket = rows.get(event.type)
        if bucket is not None and event.duration_s is not None:
            start = event.time_s - event.duration_s
            bucket.append((event.device_id, event.zone or "", start, event.time_s))
    for row in rows[STORE_EXIT]:
        entered.add(row[0])

    def frame(kind: str) -> pd.DataFrame:
        r = rows[kind]
        if not r:
            return empty_intervals()
        d, z, s, e = zip(*r, strict=True)
        return make_intervals(d, z, s, e)

    return EventIntervals(
        visits=frame(STORE_EXIT),
        zone_visits=frame(ZONE_EXIT),
        dwells=frame(DWELL_END),
        entered=frozenset(entered),
        events=total,
        duplicates=duplicates,
        malformed=(),
    )


def read_events_jsonl(path: str) -> EventIntervals:
    """Read CloudEvents, one per line (ARCHITECTURE 3.3); malformed lines are skipped and listed."""
    events: list[PresenceEvent] = []
    ids: list[str] = []
    malformed: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                event = PresenceEvent.from_cloudevent(raw)
            except (json.JSONDecodeError, PositioningError) as e:
                malformed.append((line_no, str(e)))
                continue
            events.append(event)
            # from_cloudevent checked that a given id matches the content
            ids.append(raw["id"] if isinstance(raw.get("id"), str) else event.id)
    parsed = intervals_from_events(events, ids)
    return EventIntervals(
        visits=parsed.visits,
        zone_visits=parsed.zone_visits,
        dwells=parsed.dwells,
        entered=parsed.entered,
        events=parsed.events + len(malformed),
        duplicates=parsed.duplicates,
        malformed=tuple(malformed),
    )


def zone_runs(positions: pd.DataFrame, layout: Layout, max_gap_s: float) -> pd.DataFrame:
    """Zone visits from a track: maximal runs of samples of one device in one zone.

    A run also ends where the device goes unheard for more than ``max_gap_s``. Vectorised:
    one zone lookup for all samples, run boundaries found with array comparisons.
    """
    if positions.empty or not layout.zones:
        return empty_intervals()
    codes = positions["device_id"].cat.codes.to_numpy()
    t = positions["t_s"].to_numpy()
    order = np.lexsort((t, codes))
    codes, t = codes[order], t[order]
    xy = positions[["x_m", "y_m"]].to_numpy()[order]
    zone = layout.zone_of(xy)
    brk = np.ones(len(t), dtype=bool)
    brk[1:] = (codes[1:] != codes[:-1]) | (zone[1:] != zone[:-1]) | (np.diff(t) > max_gap_s)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(t)) - 1
    keep = zone[starts] >= 0
    starts, ends = starts[keep], ends[keep]
    names = np.array([z.name for z in layout.zones], dtype=object)
    categories = positions["device_id"].cat.categories
    return make_intervals(
        np.asarray(categories)[codes[starts]], names[zone[starts]], t[starts], t[ends]
    )
