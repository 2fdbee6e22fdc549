from __future__ import annotations

import json

import pytest

from positioning.errors import EventFormatError
from positioning.events import DWELL_END, STORE_ENTER, PresenceEvent


def test_cloudevent_round_trip_and_stable_id() -> None:
    e = PresenceEvent(
        DWELL_END,
        "demo",
        "dev-1",
        1_790_000_000.25,
        1_790_000_003.0,
        3.2,
        4.5,
        zone="shoes",
        duration_s=42.0,
    )
    ce = e.to_cloudevent()
    assert (
        ce["specversion"] == "1.0" and ce["source"] == "instore/demo" and ce["subject"] == "dev-1"
    )
    assert ce["time"].endswith("Z") and ce["data"]["duration_s"] == 42.0
    back = PresenceEvent.from_cloudevent(json.loads(json.dumps(ce)))
    assert back.id == e.id
    assert back.zone == "shoes"
    again = PresenceEvent(
        DWELL_END,
        "demo",
        "dev-1",
        1_790_000_000.25,
        1_790_000_009.0,
        3.0,
        4.0,
        zone="shoes",
        duration_s=42.0,
    )
    assert again.id == e.id  # identity is the occurrence, not when it was detected
    other = PresenceEvent(
        DWELL_END,
        "demo",
        "dev-2",
        1_790_000_000.25,
        1_790_000_003.0,
        3.2,
        4.5,
        zone="shoes",
        duration_s=42.0,
    )
    assert other.id != e.id


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda ce: ce.update(specversion="0.3"), "specversion"),
        (lambda ce: ce.update(type="instore.store.teleport"), "type"),
        (lambda ce: ce["data"].pop("detected_at"), "data.detected_at"),
        (lambda ce: ce.update(time="yesterday"), "time"),
        (lambda ce: ce.update(id="not-the-id"), "id"),
    ],
)
def test_bad_events_name_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    ce = PresenceEvent(STORE_ENTER, "demo", "d", 100.0, 101.0, 1.0, 2.0).to_cloudevent()
    mutate(ce)
    with pytest.raises(EventFormatError) as info:
        PresenceEvent.from_cloudevent(ce)
    assert info.value.field == field
