"""The bus seam: what a service needs of MQTT (:class:`Bus`), and dead letters written once.

Every service (the live engine, the welcome service, the staff lookup, replay, the
dashboard feed, the ESPresense relay, the archive) takes a :class:`Bus`. Two
implementations ship: :class:`~presence.transport.mqttclient.BusClient` (paho, a real
broker) and :class:`presence.testing.MemoryBus` (in memory, for tests of service logic:
httpx ships ``MockTransport`` the same way).

A service that decodes what it receives subscribes through :func:`subscribe_decoded`
with a :class:`DeadLetters`: a message its decoder refuses (``PayloadError``) is counted
by reason and published, with the reason, on the store's dead-letter topic; it never
reaches the handler and never stops the service (docs/mqtt.md, "Dead letters").
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from presence.transport.busconfig import (
    DEFAULT_MAX_BUFFERED,
    DEFAULT_MAX_INFLIGHT,
    BusConfig,
    BusError,
    default_client_id,
)
from presence.transport.dispatch import BatchHandler, Handler
from presence.transport.mqttclient import BusClient
from presence.transport.payloads import PayloadError, encode_deadletter

__all__ = [
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_MAX_INFLIGHT",
    "BatchHandler",
    "Bus",
    "BusClient",
    "BusConfig",
    "BusError",
    "DeadLetters",
    "Decoder",
    "Handler",
    "default_client_id",
    "subscribe_decoded",
]

T = TypeVar("T")
#: Turns one message (topic, payload) into what a service works with; raises PayloadError.
Decoder = Callable[[str, bytes], T]


class Bus(Protocol):
    """Publish and subscribe on MQTT topics; handlers are called one message at a time."""

    @property
    def connected(self) -> bool:
        """True while the bus can deliver (a status badge; publishing never needs it)."""
        ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        """Publish in order; may block while the offline buffer is full."""
        ...

    def publish_json(
        self, topic: str, payload: Mapping[str, Any], *, qos: int = 1, retain: bool = False
    ) -> None: ...

    def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Call ``handler(topic, payload)`` for every message matching the filter (+, #)."""
        ...

    def subscribe_batch(self, topic_filter: str, handler: BatchHandler, *, qos: int = 1) -> None:
        """Call ``handler([(topic, payload), ...])`` with runs of consecutive messages."""
        ...

    def wait_published(self, timeout_s: float = 30.0) -> bool:
        """Wait until the broker acknowledged everything published so far (False: timeout)."""
        ...


class DeadLetters:
    """Where one service's unusable messages go: ``counts[prefix + reason]`` is incremented
    and the message (an excerpt) is published with the reason on ``topic`` (QoS 1).
    ``counts`` may be the service's own stats counter; ``clock`` stamps ``received_at``."""

    def __init__(
        self,
        bus: Bus,
        topic: str,
        service: str,
        *,
        clock: Callable[[], float] = time.time,
        counts: Counter[str] | None = None,
        prefix: str = "",
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.service = service
        self.clock = clock
        self.counts: Counter[str] = Counter() if counts is None else counts
        self.prefix = prefix

    def __call__(self, topic: str, payload: bytes, error: PayloadError) -> None:
        self.counts[self.prefix + error.reason] += 1
        body = encode_deadletter(
            topic, payload, error, service=self.service, received_at_s=self.clock()
        )
        self.bus.publish(self.topic, body, qos=1)

    def decode(self, decode: Decoder[T], topic: str, payload: bytes) -> T | None:
        """``decode(topic, payload)``, or None after dead-lettering what it refused."""
        try:
            return decode(topic, payload)
        except PayloadError as e:
            self(topic, payload, e)
            return None

    def handler(self, decode: Decoder[T], handle: Callable[[str, T], None]) -> Handler:
        """A bus handler that decodes, then calls ``handle(topic, value)``."""

        def on_message(topic: str, payload: bytes) -> None:
            value = self.decode(decode, topic, payload)
            if value is not None:
                handle(topic, value)

        return on_message


def subscribe_decoded(
    bus: Bus,
    topic_filter: str,
    decode: Decoder[T],
    handle: Callable[[str, T], None],
    deadletters: DeadLetters,
    *,
    qos: int = 1,
) -> None:
    """Subscribe ``handle`` to decoded messages; refused ones go to ``deadletters``."""
    bus.subscribe(topic_filter, deadletters.handler(decode, handle), qos=qos)


if TYPE_CHECKING:  # mypy checks that the paho client keeps to the protocol
    _PAHO_IS_A_BUS: type[Bus] = BusClient
