"""Presence events and their CloudEvents 1.0 form (ARCHITECTURE 3.3).

The id is a UUIDv5 of what the event *is* (store, type, device, occurrence time to
the millisecond, zone), so replaying the same observations gives the same ids and
any consumer can deduplicate by id.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from positioning.errors import EventFormatError

__all__ = [
    "CLOSING_TYPES",
    "DWELL_END",
    "DWELL_START",
    "EVENT_ID_NAMESPACE",
    "EVENT_TYPES",
    "EventFormatError",
    "PresenceEvent",
    "SPECVERSION",
    "STORE_ENTER",
    "STORE_EXIT",
    "ZONE_ENTER",
    "ZONE_EXIT",
    "ZONE_TYPES",
    "format_time",
    "parse_time",
]


SPECVERSION = "1.0"
STORE_ENTER = "instore.store.enter"
STORE_EXIT = "instore.store.exit"
ZONE_ENTER = "instore.zone.enter"
ZONE_EXIT = "instore.zone.exit"
DWELL_START = "instore.dwell.start"
DWELL_END = "instore.dwell.end"
EVENT_TYPES = (STORE_ENTER, STORE_EXIT, ZONE_ENTER, ZONE_EXIT, DWELL_START, DWELL_END)
#: Types that close an interval and so carry ``duration_s``.
CLOSING_TYPES = (STORE_EXIT, ZONE_EXIT, DWELL_END)
#: Types that refer to a zone.
ZONE_TYPES = (ZONE_ENTER, ZONE_EXIT, DWELL_START, DWELL_END)

#: Namespace of event ids (a fixed random UUID; never change it or replayed ids change).
EVENT_ID_NAMESPACE = uuid.UUID("6f0d5c1e-3b9a-4d7e-9a61-2c8f4e1b7a30")


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One presence occurrence. Times are epoch seconds on the observations' clock."""

    type: str
    store: str
    device_id: str
    time_s: float
    detected_at_s: float
    x_m: float
    y_m: float
    zone: str | None = None
    duration_s: float | None = None

    @property
    def id(self) -> str:
        key = f"{self.store}|{self.type}|{self.device_id}|{round(self.time_s * 1000)}|{self.zone or ''}"
        return str(uuid.uuid5(EVENT_ID_NAMESPACE, key))

    def to_cloudevent(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "x": round(self.x_m, 3),
            "y": round(self.y_m, 3),
            "detected_at": round(self.detected_at_s, 3),
        }
        if self.zone is not None:
            data["zone"] = self.zone
        if self.duration_s is not None:
            data["duration_s"] = round(self.duration_s, 3)
        return {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": f"instore/{self.store}",
            "type": self.type,
            "time": format_time(self.time_s),
            "subject": self.device_id,
            "datacontenttype": "application/json",
            "data": data,
        }

    @classmethod
    def from_cloudevent(cls, event: Mapping[str, Any]) -> PresenceEvent:
        """Parse and validate a structured CloudEvent; raises EventFormatError naming the field."""
        if not isinstance(event, Mapping):
            raise EventFormatError("event", f"must be a JSON object, got {type(event).__name__}")
        if event.get("specversion") != SPECVERSION:
            raise EventFormatError(
                "specversion", f"must be {SPECVERSION!r}, got {event.get('specversion')!r}"
            )
        etype = _str(event, "type")
        if etype not in EVENT_TYPES:
            raise EventFormatError("type", f"unknown presence event type {etype!r}")
        source = _str(event, "source")
        if not source.startswith("instore/"):
            raise EventFormatError("source", f"must be 'instore/<store>', got {source!r}")
        data = event.get("data")
        if not isinstance(data, Mapping):
            raise EventFormatError("data", "missing or not an object")
        time_s = parse_time(_str(event, "time"))
        parsed = cls(
            type=etype,
            store=source.removeprefix("instore/"),
            device_id=_str(event, "subject"),
            time_s=time_s,
            detected_at_s=_num(data, "data.detected_at"),
            x_m=_num(data, "data.x"),
            y_m=_num(data, "data.y"),
            zone=_str(data, "data.zone") if etype in ZONE_TYPES else data.get("zone"),
            duration_s=_num(data, "data.duration_s") if etype in CLOSING_TYPES else None,
        )
        if parsed.detected_at_s + 1e-3 < parsed.time_s:
            raise EventFormatError("data.detected_at", "is before the event's time")
        if "id" in event and event["id"] != parsed.id:
            raise EventFormatError(
                "id", f"{event['id']!r} does not match the event's content (expected {parsed.id})"
            )
        return parsed


def format_time(t_s: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-23T09:00:00.000Z.

    Rounded (not truncated) to the millisecond, as the event id is, so a parsed event
    always maps back to the same id.
    """
    return (
        datetime.fromtimestamp(round(t_s * 1000) / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_time(text: str) -> float:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise EventFormatError("time", f"not an RFC 3339 time: {text!r}") from e
    if dt.tzinfo is None:
        raise EventFormatError("time", f"needs a UTC offset: {text!r}")
    return dt.timestamp()


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1]


def _str(obj: Mapping[str, Any], field: str) -> str:
    value = obj.get(_leaf(field))
    if not isinstance(value, str) or not value:
        raise EventFormatError(field, f"must be a non-empty string, got {value!r}")
    return value


def _num(obj: Mapping[str, Any], field: str) -> float:
    value = obj.get(_leaf(field))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventFormatError(field, f"must be a finite number, got {value!r}")
    return float(value)
