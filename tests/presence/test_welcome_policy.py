"""The pure welcome policy: every reason, the relevance order, languages, the control group."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence.crm.profile import CustomerFacts, ReadyOrder
from presence.welcome import policy as P
from presence.welcome.templates import TEXTS, render

STORE = "demo-fashion"
#: Monday 2026-01-05 10:00 in Amsterdam (09:00 UTC): inside opening hours.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def facts(**kw: object) -> CustomerFacts:
    base = CustomerFacts(
        customer_id="C000001",
        given_name="Sanne",
        language="nl",
        loyalty_tier="gold",
        birthday=date(1990, 6, 1),
        recent_categories=(),
        ready_orders=(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def request(**kw: object) -> P.WelcomeRequest:
    base = P.WelcomeRequest(
        t_s=T0,
        trigger=P.TRIGGER_ENTER,
        store=STORE,
        device_id="d1",
        zone=None,
        is_staff=False,
        customer=facts(),
        marketing_consent=True,
        visit_messaged=False,
        contacts_s=(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


#: No one is held out, so reasons other than the control group show.
NO_CONTROL = P.PolicyParams(control_share=0.0)


def test_a_consenting_customer_gets_the_generic_welcome() -> None:
    d = P.decide(request(), NO_CONTROL)
    assert (d.outcome, d.reason) == (P.SEND, P.TEMPLATE_GENERIC)
    assert d.content is not None and d.content.language == "nl"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_staff": True}, P.REASON_STAFF),
        ({"customer": None}, P.REASON_UNKNOWN_DEVICE),
        ({"marketing_consent": False}, P.REASON_NO_CONSENT),
        ({"visit_messaged": True}, P.REASON_VISIT_DONE),
        ({"t_s": T0 + 12 * HOUR}, P.REASON_QUIET_HOURS),  # 22:00 in Amsterdam
        ({"t_s": T0 - 2.5 * HOUR}, P.REASON_QUIET_HOURS),  # 07:30 in Amsterdam
        ({"contacts_s": (T0 - 11.9 * HOUR,)}, P.REASON_COOLDOWN),
        ({"contacts_s": (T0 + 3 * HOUR,)}, P.REASON_COOLDOWN),  # a later one decided first
        ({"t_s": T0 + 10 * HOUR, "contacts_s": (T0 - 1 * HOUR + 1,)}, P.REASON_COOLDOWN),
        ({"contacts_s": (T0 - 3 * 86400, T0 - 2 * 86400, T0 - 1 * 86400)}, P.REASON_WEEKLY_CAP),
    ],
)
def test_suppression_reasons(change: dict[str, object], reason: str) -> None:
    d = P.decide(request(**change), NO_CONTROL)
    assert (d.outcome, d.reason) == (P.SUPPRESS, reason)


def test_daily_cap_counts_the_local_calendar_day() -> None:
    # 08:30 and 20:45 local: 12 h 15 min apart, past the cooldown, but the same day.
    morning = datetime(2026, 1, 5, 7, 30, tzinfo=UTC).timestamp()
    evening = morning + 12.25 * HOUR
    params = P.PolicyParams(control_share=0.0, quiet_start_hour=22)
    d = P.decide(request(t_s=evening, contacts_s=(morning,)), params)
    assert (d.outcome, d.reason) == (P.SUPPRESS, P.REASON_DAILY_CAP)
    assert (
        P.decide(request(t_s=evening, contacts_s=(morning,)), replace(params, daily_cap=2)).outcome
        == P.SEND
    )


def test_staff_is_checked_before_anything_else() -> None:
    d = P.decide(request(is_staff=True, marketing_consent=True), NO_CONTROL)
    assert d.reason == P.REASON_STAFF


def test_relevance_order() -> None:
    order = ReadyOrder("O1", STORE, "click & collect desk", 2)
    elsewhere = ReadyOrder("O2", "other-store", "desk", 1)
    birthday = date(1990, 1, 3)  # two days before T0
    cases = [
        (facts(ready_orders=(order,), birthday=birthday), P.TRIGGER_ENTER, P.TEMPLATE_ORDER_READY),
        (facts(ready_orders=(elsewhere,), birthday=birthday), P.TRIGGER_ENTER, P.TEMPLATE_BIRTHDAY),
        (facts(recent_categories=("shoes",)), P.TRIGGER_DWELL, P.TEMPLATE_ZONE_OFFER),
        (facts(recent_categories=("shoes",)), P.TRIGGER_ENTER, P.TEMPLATE_PURCHASE_OFFER),
        (facts(), P.TRIGGER_ENTER, P.TEMPLATE_GENERIC),
    ]
    for customer, trigger, template in cases:
        d = P.decide(request(customer=customer, trigger=trigger, zone="denim"), NO_CONTROL)
        assert d.reason == template, (customer, trigger)


def test_dwell_in_a_non_product_zone_gets_no_zone_offer() -> None:
    d = P.decide(request(trigger=P.TRIGGER_DWELL, zone="checkout"), NO_CONTROL)
    assert d.reason == P.TEMPLATE_GENERIC


def test_birthday_window_and_leap_day() -> None:
    assert (
        P.decide(request(customer=facts(birthday=date(1990, 1, 5))), NO_CONTROL).reason
        == P.TEMPLATE_BIRTHDAY
    )
    assert (
        P.decide(request(customer=facts(birthday=date(1990, 1, 6))), NO_CONTROL).reason
        == P.TEMPLATE_GENERIC
    )
    assert (
        P.decide(request(customer=facts(birthday=date(1990, 12, 31))), NO_CONTROL).reason
        == P.TEMPLATE_BIRTHDAY
    )
    leap = datetime(2027, 3, 1, 10, tzinfo=UTC).timestamp()
    d = P.decide(request(t_s=leap, customer=facts(birthday=date(2000, 2, 29))), NO_CONTROL)
    assert d.reason == P.TEMPLATE_BIRTHDAY


def test_every_template_renders_in_both_languages() -> None:
    params = (
        ("name", "Sanne"),
        ("order_id", "O1"),
        ("pickup_point", "desk"),
        ("category", "shoes"),
    )
    for template, language in TEXTS:
        title, body = render(P.Content(template, language, params))
        assert body and (title + body).replace("{name}", "").count("{") == 0
        assert "{name}" in body, "the app fills in its own user's name"
        assert "Sanne" not in title + body and "O1" not in title + body, "finding 18.7"
    assert "schoenen" in render(P.Content(P.TEMPLATE_ZONE_OFFER, "nl", params))[1]
    english = P.decide(request(customer=facts(language="en")), NO_CONTROL)
    assert english.content is not None and render(english.content)[0] == "Welcome"


def test_control_group_is_stable_and_near_its_share() -> None:
    ids = [f"C{i:06d}" for i in range(20_000)]
    members = [c for c in ids if P.in_control_group(c, 0.1)]
    assert 0.09 < len(members) / len(ids) < 0.11
    assert members == [c for c in ids if P.in_control_group(c, 0.1)]
    held = P.decide(request(customer=facts(customer_id=members[0])))
    assert held.outcome == P.CONTROL and held.content is not None  # logged with what it would send
    assert not any(P.in_control_group(c, 0.0) for c in ids[:1000])


def test_bad_params_are_refused() -> None:
    with pytest.raises(ValueError, match="control_share"):
        P.PolicyParams(control_share=1.5)
    with pytest.raises(ValueError, match="quiet_start_hour"):
        P.PolicyParams(quiet_start_hour=24)


@given(
    t=st.floats(T0 - 30 * 86400, T0 + 30 * 86400),
    contacts=st.lists(st.floats(T0 - 40 * 86400, T0 + 40 * 86400), max_size=6),
    share=st.sampled_from([0.0, 0.1, 1.0]),
)
def test_a_send_is_never_inside_the_cooldown_or_caps(
    t: float, contacts: list[float], share: float
) -> None:
    params = P.PolicyParams(control_share=share)
    d = P.decide(request(t_s=t, contacts_s=tuple(contacts)), params)
    if d.outcome == P.SEND:
        assert all(abs(t - c) >= params.cooldown_s for c in contacts)
        assert sum(abs(t - c) < P.WEEK_S for c in contacts) < params.weekly_cap
        assert share < 1.0
