"""The welcome service on the bus: presence events in, at most one welcome per visit out.

For each ``store.enter`` (and ``dwell.start`` with ``on_dwell``) the decider commits the
decision and, for a send, an outbox row, in one transaction; only then is the
message published on the device's message topic and the row marked sent. Killed
between the two, a restarted service finds the row pending and sends it: the
effect is exactly once (see docs/consent-and-welcome.md). Malformed events are
counted and dead-lettered, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from positioning.events import DWELL_START, STORE_ENTER, STORE_EXIT, PresenceEvent
from presence.crm.store import CrmStore
from presence.transport.bus import Bus, BusError, DeadLetters, subscribe_decoded
from presence.transport.payloads import PayloadError, decode_event
from presence.transport.topics import Topics
from presence.welcome import outbox
from presence.welcome.decider import WelcomeDecider
from presence.welcome.outbox import OutboxMessage
from presence.welcome.policy import PolicyParams

__all__ = [
    "AfterCommit",
    "DB_ATTEMPTS",
    "DB_RETRY_S",
    "PUBLISH_ACK_TIMEOUT_S",
    "RESEND_EVERY_S",
    "SERVICE_NAME",
    "WelcomeService",
]

log = logging.getLogger(__name__)

SERVICE_NAME = "welcome"
#: Attempts at one event's transaction when the database is briefly unavailable
#: (a PostgreSQL restart, a SQLite writer holding the lock past its timeout).
DB_ATTEMPTS = 3
DB_RETRY_S = 1.0
#: How often pending rows are looked for (those a crashed or failed sender left).
RESEND_EVERY_S = 5.0
#: Longest wait for the broker to acknowledge a message before it is left for a resend.
PUBLISH_ACK_TIMEOUT_S = 10.0

#: Called with the messages just committed, before any is published (fault injection
#: for the crash test: see presence/commands/welcome.py).
AfterCommit = Callable[[list[OutboxMessage]], None]


class WelcomeService:
    """One store's welcome service; ``start()``, then ``close()``."""

    def __init__(
        self,
        bus: Bus,
        crm: CrmStore,
        store: str,
        *,
        params: PolicyParams = PolicyParams(),
        on_dwell: bool = False,
        wall_clock: Callable[[], float] = time.time,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.bus = bus
        self.crm = crm
        self.topics = Topics(store)
        self.decider = WelcomeDecider(crm, params, on_dwell=on_dwell, wall_clock=wall_clock)
        self.wall_clock = wall_clock
        self.after_commit = after_commit
        self.on_dwell = on_dwell
        self.stats: Counter[str] = Counter()
        self._send_lock = threading.Lock()
        self._deadletters = DeadLetters(
            bus,
            self.topics.deadletter,
            SERVICE_NAME,
            clock=wall_clock,
            counts=self.stats,
            prefix="deadletter:",
        )

    def start(self) -> None:
        """Send what a previous run left pending, then subscribe."""
        self.resend_pending(all_unclaimed=True)
        kinds = [STORE_ENTER, STORE_EXIT] + ([DWELL_START] if self.on_dwell else [])
        for kind in kinds:
            subscribe_decoded(
                self.bus, self.topics.event(kind), self._decode, self.on_event, self._deadletters
            )

    def _decode(self, _topic: str, payload: bytes) -> PresenceEvent:
        event = decode_event(payload)
        if event.store != self.topics.store:
            raise PayloadError("bad_event", f"store {event.store!r}")
        return event

    def on_message(self, topic: str, payload: bytes) -> None:
        """One message of an event topic (what the bus calls)."""
        event = self._deadletters.decode(self._decode, topic, payload)
        if event is not None:
            self.on_event(topic, event)

    def on_event(self, _topic: str, event: PresenceEvent) -> None:
        """Decide on one event of this store, commit, then deliver."""
        self.stats["events"] += 1
        committed = self._with_retry(lambda: self.decider.handle(event))
        if self.after_commit is not None:
            self.after_commit(committed)
        for message in committed:
            self._deliver(message)

    def resend_pending(self, *, all_unclaimed: bool = False) -> int:
        """Publish pending rows of this store; returns how many were sent now."""
        now = None if all_unclaimed else self.wall_clock()
        with self.crm.engine.connect() as conn:
            waiting = outbox.pending(conn, self.topics.store, now_wall_s=now)
        sent = sum(self._deliver(m) for m in waiting)
        if sent:
            self.stats["resent"] += sent
            log.info("welcome: resent %d pending message(s)", sent)
        return sent

    def _deliver(self, message: OutboxMessage) -> bool:
        try:
            with self._send_lock:
                done = outbox.deliver(self.crm.engine, message, self._publish, self.wall_clock)
        except BusError as e:
            log.warning("welcome: %s; it stays pending and is resent", e)
            self.stats["publish_failed"] += 1
            return False
        self.stats["sent" if done else "not_sent"] += 1
        return done

    def _publish(self, message: OutboxMessage) -> None:
        """Publish and wait for the broker's acknowledgement: "sent" means the broker has it."""
        self.bus.publish_json(self.topics.message(message.device_id), message.payload(), qos=1)
        if not self.bus.wait_published(PUBLISH_ACK_TIMEOUT_S):
            # The row stays claimed and pending; it is resent once the claim times out.
            raise BusError(f"no acknowledgement for message {message.message_id}")

    def _with_retry(self, fn: Callable[[], list[OutboxMessage]]) -> list[OutboxMessage]:
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                return fn()
            except OperationalError as e:
                if attempt == DB_ATTEMPTS:
                    raise
                log.warning("welcome: database unavailable (%s); retrying", e.orig)
                time.sleep(DB_RETRY_S * attempt)
        return []
