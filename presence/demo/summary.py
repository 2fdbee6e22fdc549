"""The demo's summary, computed from what went over the bus and into the CRM database.

A :class:`BusRecorder` subscribes like any consumer and keeps every presence event,
staff alert and welcome message with its arrival time; :func:`summarize` counts
those (distinct by id, so a redelivery is not a second event) and asks the database
the questions only it can answer (the visit of a message, consent at decision time,
suppressed decisions). Nothing is taken from counters the services keep about
themselves.

Welcome latency is measured from the shopper's true entry (the simulator's ground
truth when given, else the event's own time) to the message's arrival on the bus:
the detection delay on the observations' clock (``detected_at - entry``) plus the
pipeline delay in wall seconds, from the arrival of the scan that let the engine
detect the entry to the arrival of the message. At a replay speed of N the first
part is exact and the second is what the pipeline would take live.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from positioning.events import STORE_ENTER, PresenceEvent, parse_time
from presence.crm.schema import decisions, outbox
from presence.crm.store import CrmStore
from presence.errors import PresenceError
from presence.transport.bus import Bus
from presence.transport.payloads import decode_event, decode_observations
from presence.transport.topics import Topics, parse_topic

__all__ = ["BusRecorder", "Received", "SCAN_MATCH_S", "summarize", "TRUE_ENTRY_MATCH_S"]

#: A detected entry matches a true one at most this far apart (seconds). Entry
#: detection takes a few seconds; a shopper already inside when a replay starts is
#: "entered" at the first observation, minutes after the true entry, and is left out.
TRUE_ENTRY_MATCH_S = 30.0
#: Times closer than this (seconds, observation clock) are the same instant (events carry ms).
SCAN_MATCH_S = 1e-3


@dataclass(frozen=True, slots=True)
class Received:
    """One message as it arrived: monotonic wall time, topic, raw payload."""

    wall_s: float
    topic: str
    payload: bytes


class BusRecorder:
    """Records events, staff alerts and welcome messages, and when each scan arrived."""

    def __init__(self, topics: Topics, clock: Callable[[], float] = time.monotonic) -> None:
        self.topics = topics
        self._clock = clock
        self._lock = threading.Lock()
        self.events: list[Received] = []
        self.alerts: list[Received] = []
        self.messages: list[Received] = []
        self.scan_t: list[float] = []
        self.scan_wall: list[float] = []

    def handlers(self) -> dict[str, Callable[[str, bytes], None]]:
        """Topic filter -> handler: what to subscribe to."""
        return {
            self.topics.events_filter: self._keep(self.events),
            self.topics.staff_alerts: self._keep(self.alerts),
            self.topics.messages_filter: self._keep(self.messages),
            self.topics.obs_filter: self._on_scan,
        }

    def attach(self, bus: Bus) -> None:
        for topic_filter, handler in self.handlers().items():
            bus.subscribe(topic_filter, handler)

    def _keep(self, into: list[Received]) -> Callable[[str, bytes], None]:
        def handler(topic: str, payload: bytes) -> None:
            with self._lock:
                into.append(Received(self._clock(), topic, payload))

        return handler

    def _on_scan(self, _topic: str, payload: bytes) -> None:
        now = self._clock()
        try:
            scan = decode_observations(payload)
        except PresenceError:
            return
        with self._lock:
            # A windowed scan carries readings up to its last one: that is when it tells
            # the engine the clock reached that time.
            self.scan_t.append(max(scan.times(), default=scan.t_s))
            self.scan_wall.append(now)

    def scan_arrival(self) -> Callable[[float], float | None]:
        """A function: observation time -> wall arrival of the first scan at or after it."""
        with self._lock:
            t = np.asarray(self.scan_t, dtype=float)
            wall = np.asarray(self.scan_wall, dtype=float)
        order = np.argsort(t, kind="stable")
        t, wall = t[order], wall[order]
        # The first scan at or after t_s arrived no later than any later scan did.
        earliest = np.minimum.accumulate(wall[::-1])[::-1] if len(wall) else wall

        def arrival(t_s: float) -> float | None:
            i = int(np.searchsorted(t, t_s - SCAN_MATCH_S))
            return float(earliest[i]) if i < len(t) else None

        return arrival

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "events": len(self.events),
                "alerts": len(self.alerts),
                "messages": len(self.messages),
            }


def _ms(t_s: float) -> int:
    return round(t_s / SCAN_MATCH_S)


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
        "n": len(values),
    }


def _distinct_events(records: Sequence[Received]) -> dict[str, tuple[PresenceEvent, float]]:
    """Event id -> (event, first arrival); undecodable messages are skipped."""
    out: dict[str, tuple[PresenceEvent, float]] = {}
    for r in records:
        try:
            event = decode_event(r.payload)
        except PresenceError:
            continue
        out.setdefault(event.id, (event, r.wall_s))
    return out


def _json(payload: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def summarize(
    recorder: BusRecorder,
    crm: CrmStore,
    *,
    true_entries: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """The summary of a demo run (see the module docstring for what each figure means)."""
    events = _distinct_events(recorder.events)
    by_type = Counter(e.type for e, _ in events.values())
    messages = _distinct_messages(recorder.messages)
    rows = _outbox_rows(crm, list(messages))
    per_visit = Counter(rows[m]["visit_id"] if m in rows else f"unmatched:{m}" for m in messages)
    suppressed = _suppressed(crm, recorder.topics.store)
    return {
        "visits": by_type.get(STORE_ENTER, 0),
        "events": dict(sorted(by_type.items())),
        "welcomes_sent": len(messages),
        "welcome_deliveries_on_bus": len(recorder.messages),
        "welcomes_suppressed": suppressed,
        "max_welcomes_per_visit": max(per_visit.values(), default=0),
        "welcomes_without_marketing_consent": _without_marketing(crm, rows, messages),
        "staff_alerts": len(recorder.alerts),
        "alerts_without_personalization_consent": _alerts_without_consent(crm, recorder.alerts),
        "welcome_latency_s": _latency(recorder, events, messages, true_entries),
    }


def _distinct_messages(records: Sequence[Received]) -> dict[str, tuple[str, dict[str, Any], float]]:
    """message_id -> (device, payload, first arrival)."""
    out: dict[str, tuple[str, dict[str, Any], float]] = {}
    for r in records:
        obj = _json(r.payload)
        if obj is None or not isinstance(obj.get("message_id"), str):
            continue
        out.setdefault(obj["message_id"], (parse_topic(r.topic).key, obj, r.wall_s))
    return out


def _outbox_rows(crm: CrmStore, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not message_ids:
        return {}
    with crm.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox).where(outbox.c.message_id.in_(message_ids)))
        return {r.message_id: dict(r._mapping) for r in rows}


def _suppressed(crm: CrmStore, store: str) -> dict[str, int]:
    c = decisions.c
    query = (
        sa.select(c.reason, sa.func.count())
        .where(c.store == store, c.outcome != "send")
        .group_by(c.reason)
        .order_by(c.reason)
    )
    with crm.engine.connect() as conn:
        return {reason: int(n) for reason, n in conn.execute(query)}


def _without_marketing(
    crm: CrmStore,
    rows: Mapping[str, Mapping[str, Any]],
    messages: Mapping[str, tuple[str, dict[str, Any], float]],
) -> int:
    """Messages whose recipient had no marketing consent when it was decided (or unknown)."""
    bad = 0
    for mid, (device, payload, _) in messages.items():
        row = rows.get(mid)
        at_s = row["decided_s"] if row else parse_time(payload["event_time"])
        customer = crm.customer_for_device(device, at_s)
        if customer is None or not crm.consent_at(customer, "marketing", at_s):
            bad += 1
    return bad


def _alerts_without_consent(crm: CrmStore, alerts: Sequence[Received]) -> int:
    """Staff alerts about a device whose customer had no personalization consent then."""
    bad = 0
    for r in alerts:
        obj = _json(r.payload) or {}
        device = obj.get("device") or obj.get("device_id") or obj.get("subject")
        at = obj.get("t") if isinstance(obj.get("t"), int | float) else None
        customer = crm.customer_for_device(device, at) if isinstance(device, str) else None
        if customer is None or not crm.consent_at(customer, "personalization", at):
            bad += 1
    return bad


def _latency(
    recorder: BusRecorder,
    events: Mapping[str, tuple[PresenceEvent, float]],
    messages: Mapping[str, tuple[str, dict[str, Any], float]],
    true_entries: Mapping[str, Sequence[float]] | None,
) -> dict[str, Any]:
    enters: dict[tuple[str, int], PresenceEvent] = {
        (e.device_id, _ms(e.time_s)): e for e, _ in events.values() if e.type == STORE_ENTER
    }
    arrival = recorder.scan_arrival()
    unmatched = 0
    totals: list[float] = []
    detection: list[float] = []
    pipeline: list[float] = []
    for device, payload, msg_wall in messages.values():
        enter = enters.get((device, _ms(parse_time(payload["event_time"]))))
        if enter is None:
            continue
        scan_wall = arrival(enter.detected_at_s)
        if scan_wall is None:
            continue
        entry_s = _true_entry(enter, true_entries)
        if entry_s is None:
            unmatched += 1
            continue
        detection.append(enter.detected_at_s - entry_s)
        pipeline.append(msg_wall - scan_wall)
        totals.append(detection[-1] + pipeline[-1])
    by_part: defaultdict[str, Any] = defaultdict(dict)
    by_part.update(_percentiles(totals))
    by_part["detection_s"] = _percentiles(detection)
    by_part["pipeline_s"] = _percentiles(pipeline)
    by_part["from"] = "ground truth entry" if true_entries is not None else "store.enter event time"
    by_part["no_true_entry"] = unmatched
    return dict(by_part)


def _true_entry(enter: PresenceEvent, truths: Mapping[str, Sequence[float]] | None) -> float | None:
    """The device's true entry nearest the detected one, if within TRUE_ENTRY_MATCH_S.

    ``None`` when ground truth has no such entry, e.g. a shopper already inside when the
    replay began (detected at the first observation, not when they walked in). Without
    ground truth the event's own time stands in.
    """
    if truths is None:
        return enter.time_s
    near = [
        t for t in truths.get(enter.device_id, ()) if abs(t - enter.time_s) <= TRUE_ENTRY_MATCH_S
    ]
    return min(near, key=lambda t: abs(t - enter.time_s)) if near else None
