"""The dashboard's welcome log shows what was finally done (issue 18, finding 9): a send the
outbox cancelled because marketing consent was withdrawn before delivery is shown as not
sent, with the reason, on SQLite and PostgreSQL; a send not yet finished is not shown."""

from __future__ import annotations

from positioning.events import STORE_ENTER, PresenceEvent
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.dashboard.feed import DecisionPoller
from presence.dashboard.hub import DashboardHub
from presence.dashboard.state import DashboardState
from presence.welcome import outbox as ob
from presence.welcome.decider import WelcomeDecider
from presence.welcome.policy import PolicyParams

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC, 10:00 in Amsterdam


def enter(device: str, t_s: float) -> PresenceEvent:
    return PresenceEvent(STORE_ENTER, "s1", device, t_s, t_s + 0.5, 1.0, 1.0)


def test_a_send_cancelled_by_a_withdrawal_shows_as_not_sent(crm_url: str) -> None:
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("p1",), language="nl", grants={"marketing": 0.0})
        add_customer(crm, "C2", ("p2",), language="nl", grants={"marketing": 0.0})
        decider = WelcomeDecider(crm, PolicyParams(control_share=0.0))
        hub = DashboardHub(DashboardState(30.0, 20.0, ()))
        poller = DecisionPoller(hub, crm_url, store="s1")
        try:
            # A store.enter timed 10:30; marketing consent withdrawn at 11:00.
            (cancelled,) = decider.handle(enter("p1", T0 + 1800))
            (sent,) = decider.handle(enter("p2", T0 + 1900))
            crm.record_consent("C1", "marketing", False, T0 + 3600)
            assert poller.poll_once() == 0, "a send the outbox has not finished is not shown"
            assert not ob.deliver(crm.engine, cancelled, lambda m: None, lambda: T0 + 3605)
            assert ob.deliver(crm.engine, sent, lambda m: None, lambda: T0 + 3606)
            assert poller.poll_once() == 2
            assert poller.poll_once() == 0
        finally:
            poller.stop()
    snap = hub.snapshot()
    assert (snap["welcomes_sent"], snap["welcomes_suppressed"]) == (1, 1)
    shown = sorted((w["outcome"], w["reason"]) for w in snap["welcome_log"])
    assert shown == [("sent", "generic"), ("suppressed", ob.REASON_WITHDRAWN)]
