"""The welcome service's database side, scenario by scenario, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from positioning.events import DWELL_START, STORE_ENTER, STORE_EXIT, PresenceEvent
from presence.crm.schema import decisions, outbox, staff_devices
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.welcome import outbox as ob
from presence.welcome.decider import REASON_NO_VISIT, WelcomeDecider
from presence.welcome.outbox import OutboxMessage
from presence.welcome.policy import PolicyParams

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC, 10:00 in Amsterdam
HOUR = 3600.0
PARAMS = PolicyParams(control_share=0.0)


def ev(
    kind: str, device: str, t: float, store: str = "s1", zone: str | None = None
) -> PresenceEvent:
    duration = 10.0 if kind == STORE_EXIT else None
    return PresenceEvent(kind, store, device, t, t + 0.5, 1.0, 1.0, zone, duration)


def reasons(crm: CrmStore) -> list[tuple[str, str, str]]:
    with crm.engine.connect() as conn:
        rows = conn.execute(
            sa.select(decisions.c.device_id, decisions.c.outcome, decisions.c.reason).order_by(
                decisions.c.decided_s, decisions.c.decision_id
            )
        )
        return [tuple(r) for r in rows]


def setup(crm: CrmStore) -> None:
    add_customer(crm, "C1", ("p1", "p1b"), language="nl", grants={"marketing": 0.0})
    add_customer(crm, "C2", ("p2",), grants={"analytics": 0.0})
    with crm.begin() as conn:
        conn.execute(staff_devices.insert().values(device_id="staff", label="staff"))


def test_one_welcome_then_redelivery_cooldown_and_a_new_visit(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        setup(crm)
        decider = WelcomeDecider(crm, PARAMS)
        sent: list[OutboxMessage] = []
        enter = ev(STORE_ENTER, "p1", T0)
        first = decider.handle(enter)
        assert len(first) == 1 and first[0].language == "nl" and "Welkom" in first[0].title
        assert ob.deliver(crm.engine, first[0], sent.append, lambda: T0 + 1)
        assert decider.handle(enter) == []  # redelivered
        assert not ob.deliver(crm.engine, first[0], sent.append, lambda: T0 + 2)  # already sent
        decider.handle(ev(STORE_EXIT, "p1", T0 + 600))
        assert decider.handle(ev(STORE_ENTER, "p1b", T0 + HOUR, store="s2")) == []
        for kind, device in ((STORE_ENTER, "p2"), (STORE_ENTER, "staff"), (STORE_ENTER, "anon")):
            assert decider.handle(ev(kind, device, T0 + 2 * HOUR)) == []
        later = decider.handle(ev(STORE_ENTER, "p1", T0 + 24 * HOUR))
        assert len(later) == 1 and later[0].visit_id != first[0].visit_id
        assert reasons(crm) == [
            ("p1", "send", "generic"),
            ("p1b", "suppress", "cooldown"),
            ("p2", "suppress", "no_marketing_consent"),
            ("staff", "suppress", "staff_device"),
            ("anon", "suppress", "unknown_device"),
            ("p1", "send", "generic"),
        ]
        assert decider.counts["redelivered"] == 1
        payload = first[0].payload()
        assert (
            payload["message_id"] == first[0].message_id and payload["schema"] == ob.MESSAGE_SCHEMA
        )
        with crm.engine.connect() as conn:
            row = conn.execute(
                sa.select(outbox).where(outbox.c.message_id == first[0].message_id)
            ).one()
        assert (row.status, row.sent_wall_s, row.decided_s) == ("sent", T0 + 1, T0)


def test_a_withdrawal_while_waiting_cancels_the_message(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        setup(crm)
        committed = WelcomeDecider(crm, PARAMS).handle(ev(STORE_ENTER, "p1", T0))
        crm.record_consent("C1", "marketing", False, T0 + 5)
        sent: list[OutboxMessage] = []
        assert not ob.deliver(crm.engine, committed[0], sent.append, lambda: T0 + 6)
        assert sent == []
        with crm.engine.connect() as conn:
            assert ob.pending(conn) == []
            assert conn.execute(sa.select(outbox.c.status)).scalar() == "cancelled"
            logged = conn.execute(
                sa.select(decisions.c.outcome, decisions.c.final_outcome, decisions.c.final_reason)
            ).one()
        # The decision was right at its time (consent held at T0); the log says how it ended.
        assert tuple(logged) == ("send", "cancelled", ob.REASON_WITHDRAWN)


def test_a_delivered_message_is_logged_as_sent(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        setup(crm)
        committed = WelcomeDecider(crm, PARAMS).handle(ev(STORE_ENTER, "p1", T0))
        assert ob.deliver(crm.engine, committed[0], lambda m: None, lambda: T0 + 1)
        with crm.engine.connect() as conn:
            logged = conn.execute(
                sa.select(
                    decisions.c.message_id, decisions.c.final_outcome, decisions.c.final_wall_s
                )
            ).one()
        assert tuple(logged) == (committed[0].message_id, "sent", T0 + 1)


def test_dwell_triggers_only_on_request_and_only_inside_a_visit(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        setup(crm)
        crm.record_consent("C1", "marketing", False, T0 - 10)
        plain = WelcomeDecider(crm, PARAMS)
        on_dwell = WelcomeDecider(crm, PARAMS, on_dwell=True)
        assert on_dwell.handle(ev(DWELL_START, "p1", T0 - 5, zone="denim")) == []  # no visit yet
        plain.handle(ev(STORE_ENTER, "p1", T0))  # no consent at the door
        crm.record_consent("C1", "marketing", True, T0 + 30)
        assert plain.handle(ev(DWELL_START, "p1", T0 + 60, zone="denim")) == []
        shelf = on_dwell.handle(ev(DWELL_START, "p1", T0 + 90, zone="denim"))
        assert [m.template for m in shelf] == ["zone_offer"]
        assert on_dwell.handle(ev(DWELL_START, "p1", T0 + 200, zone="shoes")) == []
        assert [r[2] for r in reasons(crm)] == [
            REASON_NO_VISIT,
            "no_marketing_consent",
            "zone_offer",
            "already_messaged_this_visit",
        ]


def test_two_instances_racing_send_one_message(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        setup(crm)
    # Both phones of C1 enter two stores at once, and each instance sees every event.
    events = [ev(STORE_ENTER, "p1", T0, store="s1"), ev(STORE_ENTER, "p1b", T0 + 1, store="s2")]
    results: list[list[OutboxMessage]] = []
    lock = threading.Lock()

    def run(order: list[PresenceEvent]) -> None:
        with CrmStore(crm_url) as own:
            decider = WelcomeDecider(own, PARAMS)
            for e in order:
                out = decider.handle(e)
                with lock:
                    results.append(out)

    threads = [threading.Thread(target=run, args=(o,)) for o in (events, events[::-1]) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = [m for out in results for m in out]
    assert len(messages) == 1
    with CrmStore(crm_url) as crm, crm.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar() == 2


def test_resend_waits_for_the_grace_and_for_dead_claims(crm_url: str) -> None:
    class Down(Exception):
        pass

    def broken(_m: OutboxMessage) -> None:
        raise Down

    with CrmStore(crm_url) as crm:
        setup(crm)
        committed = WelcomeDecider(crm, PARAMS, wall_clock=lambda: 1000.0).handle(
            ev(STORE_ENTER, "p1", T0)
        )
        with crm.engine.connect() as conn:
            assert ob.pending(conn, "s1", now_wall_s=1001.0) == []  # its decider sends it
            assert ob.pending(conn, "s1", now_wall_s=1000.0 + ob.RESEND_GRACE_S + 1) == committed
            assert ob.pending(conn, "other-store") == []
        with pytest.raises(Down):  # claimed, then the publish failed: the claim stays
            ob.deliver(crm.engine, committed[0], broken, lambda: 2000.0)
        sent: list[OutboxMessage] = []
        assert not ob.deliver(crm.engine, committed[0], sent.append, lambda: 2010.0)
        with crm.engine.connect() as conn:
            assert ob.pending(conn, "s1", now_wall_s=2010.0) == []
            late = 2000.0 + ob.CLAIM_TIMEOUT_S + 1
            assert ob.pending(conn, "s1", now_wall_s=late) == committed
        assert ob.deliver(crm.engine, committed[0], sent.append, lambda: late)
        assert sent == committed


def test_crm_show_tells_how_a_welcome_ended(
    crm_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 18, finding 9: consent withdrawn at 11:00, a store.enter timed 10:30.
    from presence.cli import main

    with CrmStore(crm_url) as crm:
        setup(crm)
        committed = WelcomeDecider(crm, PARAMS).handle(ev(STORE_ENTER, "p1", T0 + 1800))
        crm.record_consent("C1", "marketing", False, T0 + 2 * 1800)
        assert not ob.deliver(crm.engine, committed[0], lambda m: None, lambda: T0 + 2 * 1800 + 5)
    capsys.readouterr()
    assert main(["crm", "show", "C1", "--crm", crm_url]) == 0
    welcome = [ln for ln in capsys.readouterr().out.splitlines() if "welcome" in ln]
    assert len(welcome) == 1
    assert welcome[0].endswith(f"send (generic) -> cancelled ({ob.REASON_WITHDRAWN})"), welcome
