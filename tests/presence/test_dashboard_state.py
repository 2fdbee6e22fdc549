"""The dashboard's live state model, driven with hand-made bus records."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.events import (
    DWELL_START,
    STORE_ENTER,
    STORE_EXIT,
    ZONE_ENTER,
    ZONE_EXIT,
    PresenceEvent,
)
from presence.dashboard.state import (
    STALE_AFTER_S,
    DashboardState,
    PositionUpdate,
    StaffAlert,
    WelcomeRecord,
    handle,
    pseudonym,
    staff_card,
)

T0 = 1_790_000_000.0
KEY = b"a test key of 16"


def h(device: str) -> str:
    return handle(device, KEY)


def ev(kind: str, device: str, t: float, zone: str | None = None) -> PresenceEvent:
    closing = kind in (STORE_EXIT, ZONE_EXIT)
    return PresenceEvent(
        kind, "s", device, T0 + t, T0 + t, 15.0, 1.0, zone, 1.0 if closing else None
    )


def fresh() -> DashboardState:
    return DashboardState(width_m=30.0, height_m=20.0, zones=("shoes", "denim"), key=KEY)


def test_enter_zone_and_exit_drive_the_list_and_the_occupancy() -> None:
    s = fresh()
    s.apply_event(ev(STORE_ENTER, "d1", 0))
    s.apply_event(ev(STORE_ENTER, "d2", 1))
    s.apply_event(ev(ZONE_ENTER, "d1", 5, "shoes"))
    s.apply_event(ev(DWELL_START, "d1", 20, "shoes"))
    snap = s.snapshot()
    assert snap["in_store"] == 2
    assert snap["zones"] == {"shoes": 1, "denim": 0}
    d1 = next(p for p in snap["shoppers"] if p["id"] == h("d1"))
    assert d1["dwelling"] and d1["zone"] == "shoes"
    s.apply_event(ev(ZONE_EXIT, "d1", 40, "shoes"))
    s.apply_event(ev(STORE_EXIT, "d2", 41))
    snap = s.snapshot()
    assert snap["zones"] == {"shoes": 0, "denim": 0}
    assert [p["id"] for p in snap["shoppers"]] == [h("d1")]


def test_a_name_comes_only_from_a_staff_alert() -> None:
    s = fresh()
    s.apply_event(ev(STORE_ENTER, "anon", 0))
    s.apply_event(ev(STORE_ENTER, "vip", 0))
    card = {"name": "Ada Lovelace", "loyalty_tier": "gold"}
    s.apply_staff_alert(StaffAlert("vip", T0 + 1, "Ada Lovelace", card, ("vip", "birthday")))
    snap = s.snapshot()
    by_id = {p["id"]: p for p in snap["shoppers"]}
    assert by_id[h("vip")]["label"] == "Ada Lovelace" and by_id[h("vip")]["named"]
    assert by_id[h("vip")]["alerts"] == ["vip", "birthday"]
    assert by_id[h("anon")]["label"] == pseudonym("anon", KEY) and not by_id[h("anon")]["named"]
    assert by_id[h("anon")]["card"] is None
    assert snap["shoppers"][0]["id"] == h("vip"), "named customers are listed first"
    s.apply_event(ev(STORE_ENTER, "quiet", -5))
    s.apply_staff_alert(StaffAlert("quiet", T0 + 2, "Grace Hopper", {"name": "Grace Hopper"}))
    order = [p["id"] for p in s.snapshot()["shoppers"]]
    assert order == [h("vip"), h("quiet"), h("anon")], "those with something to act on come first"


def test_positions_move_dots_and_fill_the_heatmap_inside_the_store_only() -> None:
    s = fresh()
    s.apply_position(PositionUpdate("d1", T0, 2.5, 3.5, "shoes"))
    s.apply_position(PositionUpdate("d1", T0 + 1, 2.6, 3.4, "shoes"))
    s.apply_position(PositionUpdate("walker", T0 + 1, 15.0, -2.0, ""))
    heat = s.heatmap()
    assert heat["nx"] == 30 and heat["ny"] == 20
    assert sum(heat["counts"]) == 2
    assert heat["counts"][3 * 30 + 2] == 2
    view = {p["id"]: p for p in s.snapshot()["shoppers"]}
    assert view[h("d1")]["x"] == pytest.approx(2.6)
    assert view[h("walker")]["zone"] is None and not view[h("walker")]["in_store"]


def test_devices_not_heard_for_a_while_leave_the_map() -> None:
    s = fresh()
    s.apply_position(PositionUpdate("gone", T0, 1.0, 1.0))
    s.apply_position(PositionUpdate("here", T0 + STALE_AFTER_S + 1, 1.0, 1.0))
    s.expire()
    assert [p["id"] for p in s.snapshot()["shoppers"]] == [h("here")]


def test_welcome_log_counts_each_decision_once_and_keeps_the_reason() -> None:
    s = fresh()
    sent = WelcomeRecord("d1", T0, "sent", "order_ready", "order_ready", key="decision:1")
    s.apply_welcome(sent)
    s.apply_welcome(sent)
    s.apply_welcome(
        WelcomeRecord("d2", T0 + 1, "suppressed", "no_marketing_consent", key="decision:2")
    )
    snap = s.snapshot()
    assert (snap["welcomes_sent"], snap["welcomes_suppressed"]) == (1, 1)
    assert snap["welcome_log"][0]["reason"] == "no_marketing_consent"
    assert snap["welcome_log"][0]["who"] == pseudonym("d2", KEY)


def test_the_page_gets_handles_and_the_card_staff_need_never_ids() -> None:
    """Finding 18.6: no raw device or customer id, birthday or dates on the wire."""
    s = fresh()
    card = {
        "customer_id": "C000042",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "birthday": "12-10",
        "member_since": "2020-01-01",
        "loyalty_tier": "gold",
        "spend_12m_eur": 420.0,
        "recent_purchases": [
            {"channel": "web", "category": "shoes", "amount_eur": 80.0, "date": "2026-11-30"}
        ],
        "orders_ready": [
            {"order_id": "O77", "pickup_store": "s", "pickup_point": "desk", "items": 2}
        ],
    }
    s.apply_event(ev(STORE_ENTER, "phone-of-ada", 0))
    s.apply_staff_alert(StaffAlert("phone-of-ada", T0 + 1, "Ada Lovelace", card))
    s.apply_event(ev(STORE_ENTER, "phone-of-bob", 0))
    s.apply_welcome(WelcomeRecord("phone-of-bob", T0, "suppressed", "no_marketing_consent"))
    wire = json.dumps(s.snapshot())
    for secret in ("phone-of", "C000042", "12-10", "2020-01-01", "2026-11-30", "O77"):
        assert secret not in wire
    assert "Ada Lovelace" in wire and "gold" in wire
    assert staff_card(card)["orders_ready"] == [{"items": 2, "pickup_point": "desk"}]
    other_run = DashboardState(30.0, 20.0, key=b"another run key!")
    assert handle("phone-of-bob", other_run.key) != h("phone-of-bob"), "handles change per run"


names = st.sampled_from(["d1", "d2", "d3"])
records = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from([STORE_ENTER, STORE_EXIT, ZONE_ENTER, ZONE_EXIT]),
        names,
        st.sampled_from(["shoes", "denim"]),
    ),
    st.tuples(st.just("pos"), st.floats(-5, 35), names, st.floats(-5, 25)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(records, max_size=40))
def test_any_sequence_keeps_the_state_consistent_and_json_ready(seq: list[tuple]) -> None:
    s = fresh()
    for i, rec in enumerate(seq):
        if rec[0] == "event":
            _, kind, dev, zone = rec
            s.apply_event(
                ev(kind, dev, float(i), zone if kind in (ZONE_ENTER, ZONE_EXIT) else None)
            )
        else:
            _, x, dev, y = rec
            s.apply_position(PositionUpdate(dev, T0 + i, x, y))
    snap = s.snapshot()
    json.dumps(snap, allow_nan=False)
    assert sum(snap["zones"].values()) <= len(snap["shoppers"])
    assert all(c >= 0 for c in s.heatmap()["counts"])
    assert not any(p["named"] for p in snap["shoppers"])
