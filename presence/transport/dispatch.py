"""The bus client's dispatcher: received messages -> handlers, on one thread, acknowledged after.

paho's network thread only appends what it receives to an inbox; the dispatcher thread
takes runs of up to DISPATCH_CHUNK messages at once (one lock hand-off for all), routes
each by topic (the matching subscriptions of a topic are remembered), calls per-message
handlers one message at a time and a batch handler once per run of consecutive messages
for it, and acknowledges a message only after its handlers returned: a consumer killed
mid-message gets it again. A handler that raises is logged and counted, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt

from presence.transport.busconfig import MAX_PARKED

__all__ = ["Acker", "BatchHandler", "DISPATCH_CHUNK", "Dispatcher", "Handler", "ROUTE_CACHE_SIZE"]

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
#: Receives a run of consecutive messages at once: ``[(topic, payload), ...]`` in arrival order.
BatchHandler = Callable[[list[tuple[str, bytes]]], None]
#: Acknowledges messages to the broker (QoS > 0 ones).
Acker = Callable[[list[mqtt.MQTTMessage]], None]
#: Messages the dispatcher takes from the inbox at once (one lock hand-off for all, one
#: call per run of consecutive messages for a batch handler). 2,000 messages are ~0.5-1 s
#: of what `instore run` handles at full speed, and bound how long acknowledgements wait.
DISPATCH_CHUNK = 2_000
#: Distinct topics whose matching subscriptions are remembered (one per device and type).
ROUTE_CACHE_SIZE = 50_000

_Route = tuple[list[Handler], BatchHandler | None]


class Dispatcher:
    """Subscriptions and the thread that calls their handlers. ``put`` is paho's on_message."""

    def __init__(self, client_id: str, ack: Acker, stats: dict[str, int]) -> None:
        self.client_id = client_id
        self._ack = ack
        self.stats = stats  # shared with the client: delivered, handler_errors, unhandled
        self._cond = threading.Condition()
        self._subs: dict[str, tuple[int, Handler | None, BatchHandler | None]] = {}
        self._routes: dict[str, _Route] = {}
        self._inbox: deque[mqtt.MQTTMessage | None] = deque()
        self._parked: deque[mqtt.MQTTMessage] = deque()
        self._generation = 0  # subscriptions added so far: parked messages may have a handler now
        self._thread = threading.Thread(target=self._run, name=f"bus-{client_id}", daemon=True)
        self._thread.start()

    def add(
        self, topic_filter: str, qos: int, handler: Handler | None, batch: BatchHandler | None
    ) -> None:
        """Route ``topic_filter`` to ``handler`` (per message) or ``batch`` (per run)."""
        with self._cond:
            self._subs[topic_filter] = (qos, handler, batch)
            self._routes.clear()
            self._generation += 1
            self._cond.notify_all()

    def subscriptions(self) -> list[tuple[str, int]]:
        """(filter, qos) of every subscription, to renew them after a reconnect."""
        with self._cond:
            return [(f, qos) for f, (qos, _h, _b) in self._subs.items()]

    def put(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._inbox.append(msg)
            self._cond.notify_all()

    def close(self, timeout_s: float) -> None:
        """Handle what was received so far, then stop the thread."""
        with self._cond:
            self._inbox.append(None)
            self._cond.notify_all()
        self._thread.join(timeout=timeout_s)

    def _take(self, generation: int) -> tuple[list[mqtt.MQTTMessage], bool, int]:
        """Up to DISPATCH_CHUNK messages in arrival order, whether the close sentinel came, and
        the generation of the subscriptions they are routed with."""
        with self._cond:
            self._cond.wait_for(
                lambda: bool(self._inbox) or (self._generation != generation and self._parked)
            )
            if self._generation != generation:
                # New subscriptions: the parked messages come first again, in arrival order.
                self._inbox.extendleft(reversed(self._parked))
                self._parked.clear()
            out: list[mqtt.MQTTMessage] = []
            while self._inbox and len(out) < DISPATCH_CHUNK:
                msg = self._inbox.popleft()
                if msg is None:
                    return out, True, self._generation
                out.append(msg)
            return out, False, self._generation

    def _route(self, topic: str) -> _Route:
        route = self._routes.get(topic)
        if route is None:
            handlers: list[Handler] = []
            batch: BatchHandler | None = None
            with self._cond:
                subs = list(self._subs.items())
            for f, (_q, h, b) in subs:
                if mqtt.topic_matches_sub(f, topic):
                    if h is not None:
                        handlers.append(h)
                    batch = batch or b
            route = (handlers, batch)
            if handlers or batch:
                if len(self._routes) >= ROUTE_CACHE_SIZE:
                    self._routes.clear()
                self._routes[topic] = route
        return route

    def _run(self) -> None:
        closing, generation = False, 0
        while not closing:
            msgs, closing, generation = self._take(generation)
            run: list[mqtt.MQTTMessage] = []  # consecutive messages for one batch handler
            run_handler: BatchHandler | None = None
            for i, msg in enumerate(msgs):
                if self._parked and self._generation != generation:
                    # Subscribed meanwhile: the parked messages go before the rest of this chunk.
                    self._requeue(msgs[i:], closing)
                    closing = False
                    break
                handlers, batch = self._route(msg.topic)
                if batch is not run_handler:
                    self._flush(run_handler, run)
                    run, run_handler = [], batch
                if batch is None:
                    self._handle(msg, handlers)
                else:  # handlers of overlapping per-message subscriptions go first
                    self._call(msg, handlers)
                    run.append(msg)
            self._flush(run_handler, run)

    def _requeue(self, msgs: list[mqtt.MQTTMessage], closing: bool) -> None:
        with self._cond:
            if closing:
                self._inbox.appendleft(None)
            self._inbox.extendleft(reversed(msgs))

    def _handle(self, msg: mqtt.MQTTMessage, handlers: list[Handler]) -> None:
        if not handlers:
            with self._cond:
                if len(self._parked) < MAX_PARKED:
                    # A persistent session delivers what it missed right after CONNACK, possibly
                    # before subscribe() named the handler: keep it (unacknowledged) until then.
                    self._parked.append(msg)
                    return
            self.stats["unhandled"] += 1
            log.warning("%s: no handler for %s; dropped", self.client_id, msg.topic)
        self._call(msg, handlers)
        self._done([msg])

    def _call(self, msg: mqtt.MQTTMessage, handlers: list[Handler]) -> None:
        for handler in handlers:
            try:
                handler(msg.topic, bytes(msg.payload))
            except Exception:  # a handler bug must not stop the service
                self.stats["handler_errors"] += 1
                log.exception("%s: handler for %s failed", self.client_id, msg.topic)

    def _flush(self, handler: BatchHandler | None, msgs: list[mqtt.MQTTMessage]) -> None:
        if handler is None or not msgs:
            return
        try:
            handler([(m.topic, bytes(m.payload)) for m in msgs])
        except Exception:  # a handler bug must not stop the service
            self.stats["handler_errors"] += 1
            log.exception("%s: batch handler for %s failed", self.client_id, msgs[0].topic)
        self._done(msgs)

    def _done(self, msgs: list[mqtt.MQTTMessage]) -> None:
        self.stats["delivered"] += len(msgs)
        self._ack(msgs)
