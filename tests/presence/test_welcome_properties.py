"""Property test of the welcome service's database side over random timelines.

Random enters, exits, dwells, consent grants and withdrawals, redeliveries, crashes
between deciding and sending, and restarts, on SQLite and PostgreSQL. Whatever
happens: never a message without marketing consent at decision time, never two per
visit, never two to a customer inside the cooldown, never to staff or the control
group, and every committed message is published exactly once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning.events import DWELL_START, STORE_ENTER, STORE_EXIT, PresenceEvent
from presence.crm import schema
from presence.crm.erase import erase_everyone
from presence.crm.schema import staff_devices
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.welcome import outbox
from presence.welcome.decider import WelcomeDecider
from presence.welcome.outbox import OutboxMessage
from presence.welcome.policy import PolicyParams, in_control_group

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC, 10:00 in Amsterdam
STORES = ("store-a", "store-b")
#: Customer -> devices; C3 has two phones. "staff-1" is staff, "anon-1" is linked to nobody.
OWNERS = {"C1": ("p1",), "C2": ("p2",), "C3": ("p3a", "p3b"), "C4": ("p4",)}
DEVICES = ("p1", "p2", "p3a", "p3b", "p4", "staff-1", "anon-1")
DEVICE_OWNER = {d: c for c, ds in OWNERS.items() for d in ds}
#: A control share and salt that put C4 (only) in the control group.
PARAMS = PolicyParams(control_share=0.25, control_salt="test-salt")

step = st.sampled_from([5.0, 120.0, 1800.0, 4 * 3600.0, 13 * 3600.0, 86400.0])
op = st.one_of(
    st.tuples(st.just("enter"), st.sampled_from(DEVICES), st.sampled_from(STORES), step),
    st.tuples(st.just("exit"), st.sampled_from(DEVICES), st.sampled_from(STORES), step),
    st.tuples(st.just("dwell"), st.sampled_from(DEVICES), st.sampled_from(STORES), step),
    st.tuples(st.just("grant"), st.sampled_from(sorted(OWNERS)), st.just(""), step),
    st.tuples(st.just("withdraw"), st.sampled_from(sorted(OWNERS)), st.just(""), step),
    st.tuples(st.just("redeliver"), st.integers(0, 50), st.just(""), st.just(0.0)),
    st.tuples(st.just("crash"), st.sampled_from(DEVICES), st.sampled_from(STORES), step),
    st.tuples(st.just("restart"), st.just(""), st.just(""), st.just(0.0)),
)


@dataclass
class World:
    crm: CrmStore
    decider: WelcomeDecider
    t: float = T0
    events: list[PresenceEvent] = field(default_factory=list)
    inside: set[tuple[str, str]] = field(default_factory=set)
    ledger: list[tuple[str, float, bool]] = field(default_factory=list)
    published: list[OutboxMessage] = field(default_factory=list)

    def consent_at(self, customer: str, t: float) -> bool:
        state = False
        for c, at, granted in self.ledger:  # appended in time order
            if c == customer and at <= t:
                state = granted
        return state

    def publish(self, m: OutboxMessage) -> None:
        self.published.append(m)

    def deliver(self, messages: list[OutboxMessage]) -> None:
        for m in messages:
            outbox.deliver(self.crm.engine, m, self.publish, lambda: 0.0)

    def restart(self) -> None:
        self.crm.close()
        self.crm = CrmStore(self.crm.url)
        self.decider = WelcomeDecider(self.crm, PARAMS, on_dwell=True)
        with self.crm.engine.connect() as conn:
            waiting = outbox.pending(conn)
        self.deliver(waiting)


def _event(kind: str, device: str, store: str, t: float) -> PresenceEvent:
    zone = "denim" if kind == DWELL_START else None
    duration = 60.0 if kind == STORE_EXIT else None
    return PresenceEvent(kind, store, device, t, t + 1.0, 1.0, 2.0, zone, duration)


def _apply(w: World, kind: str, who: str, store: str, dt: float) -> None:
    w.t += dt
    if kind in ("grant", "withdraw"):
        w.crm.record_consent(who, "marketing", kind == "grant", w.t)
        w.ledger.append((who, w.t, kind == "grant"))
    elif kind == "redeliver" and w.events:
        w.deliver(w.decider.handle(w.events[int(who or 0) % len(w.events)]))
    elif kind == "restart":
        w.restart()
    elif kind in ("enter", "exit", "dwell", "crash"):
        key = (who, store)
        etype = {"enter": STORE_ENTER, "crash": STORE_ENTER, "exit": STORE_EXIT}.get(
            kind, DWELL_START
        )
        if etype == STORE_ENTER:
            if key in w.inside:
                return
            w.inside.add(key)
        elif key not in w.inside:
            return
        elif etype == STORE_EXIT:
            w.inside.discard(key)
        event = _event(etype, who, store, w.t)
        w.events.append(event)
        committed = w.decider.handle(event)
        if kind != "crash":  # a crash loses what was committed but not yet published
            w.deliver(committed)


def _fresh(crm: CrmStore) -> None:
    with crm.begin() as conn:
        erase_everyone(conn)
        conn.execute(staff_devices.insert().values(device_id="staff-1", label="staff"))
    for customer, devices in OWNERS.items():
        add_customer(crm, customer, devices, language="nl")


def test_params_put_exactly_c4_in_the_control_group() -> None:
    held = {c for c in OWNERS if in_control_group(c, PARAMS.control_share, PARAMS.control_salt)}
    assert held == {"C4"}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    granted=st.sets(st.sampled_from(sorted(OWNERS))),
    ops=st.lists(op, min_size=5, max_size=40),
)
def test_welcome_invariants_over_random_timelines(
    crm_url: str, granted: set[str], ops: list[tuple[str, str, str, float]]
) -> None:
    crm = CrmStore(crm_url)
    _fresh(crm)
    world = World(crm, WelcomeDecider(crm, PARAMS, on_dwell=True))
    try:
        for customer in sorted(granted):
            _apply(world, "grant", customer, "", 0.0)
        for kind, who, store, dt in ops:
            _apply(world, kind, who, store, dt)
        world.restart()  # the final restart sends whatever a crash left pending
        _check(world)
    finally:
        world.crm.close()


def _check(w: World) -> None:
    ids = Counter(m.message_id for m in w.published)
    assert max(ids.values(), default=0) <= 1, "a message was published twice"
    per_visit = Counter((m.customer_id, m.visit_id) for m in w.published)
    assert max(per_visit.values(), default=0) <= 1, "two messages in one visit"
    by_customer: dict[str, list[float]] = {}
    for m in w.published:
        assert m.device_id in DEVICE_OWNER, f"message to {m.device_id}"
        assert DEVICE_OWNER[m.device_id] == m.customer_id
        assert m.customer_id != "C4", "message to the control group"
        assert w.consent_at(m.customer_id, m.decided_s), "message without consent"
        by_customer.setdefault(m.customer_id, []).append(m.decided_s)
    for times in by_customer.values():
        times.sort()
        assert all(b - a >= PARAMS.cooldown_s for a, b in zip(times, times[1:], strict=False))
    with w.crm.engine.connect() as conn:
        assert outbox.pending(conn) == []
        rows = conn.execute(sa.select(schema.outbox.c.message_id, schema.outbox.c.status)).all()
    assert {r.message_id for r in rows if r.status == "sent"} == set(ids)
