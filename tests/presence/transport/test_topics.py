"""Topic builders: the layout is pinned, levels are validated."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence.transport.topics import (
    ALL_EVENTS_FILTER,
    TopicError,
    Topics,
    parse_topic,
)


def test_topic_layout_is_pinned() -> None:
    t = Topics("fashion")
    assert t.obs("d001") == "instore/v1/fashion/obs/d001"
    assert t.event("instore.zone.enter") == "instore/v1/fashion/events/zone.enter"
    assert t.events_filter == "instore/v1/fashion/events/#"
    assert t.position("d001") == "instore/v1/fashion/positions/d001"
    assert t.deadletter == "instore/v1/fashion/deadletter"
    assert t.status("run") == "instore/v1/fashion/status/run"
    assert t.staff_alerts == "instore/v1/fashion/staff/alerts"
    assert t.message("d001") == "instore/v1/fashion/messages/d001"


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", "x\x00"])
def test_bad_levels_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(TopicError, match="store"):
        Topics(bad)
    with pytest.raises(TopicError, match="device_id"):
        Topics("s").obs(bad)


def test_filters_match_their_topics() -> None:
    t = Topics("s1")
    assert mqtt.topic_matches_sub(t.events_filter, t.event("instore.store.exit"))
    assert mqtt.topic_matches_sub(ALL_EVENTS_FILTER, t.event("instore.store.exit"))
    assert not mqtt.topic_matches_sub(t.events_filter, Topics("s2").event("instore.store.exit"))
    assert mqtt.topic_matches_sub(t.obs_filter, t.obs("d9"))


level = st.text(min_size=1, max_size=20).filter(lambda s: not any(c in s for c in "/+#\x00"))


@given(store=level, device=level)
def test_parse_inverts_build(store: str, device: str) -> None:
    parsed = parse_topic(Topics(store).obs(device))
    assert (parsed.store, parsed.kind, parsed.key) == (store, "obs", device)
