"""The MQTT implementation of :class:`~presence.transport.bus.Bus`: paho-mqtt 2.x behind a small,
safe face; every instore service connects through it (``presence.testing.MemoryBus`` is the other).

What it guarantees (docs/mqtt.md explains each):

- MQTT 5 when the broker speaks it, else 3.1.1 (amqtt); ``protocol=`` in the config forces one.
- Persistent sessions (``persistent=True``): a fixed client id, ``clean_start=False`` and a
  session expiry (v5) or ``clean_session=False`` (v3.1.1), so a restarted consumer receives
  the QoS 1 messages it missed.
- Messages are acknowledged *after* the handler returned (manual ack on the dispatcher
  thread), so a consumer killed mid-message gets it again; handlers must be idempotent
  (every event has an id). A handler that raises is logged and counted, never fatal.
- Reconnect with exponential backoff; every subscription is renewed on reconnect.
- A bounded in-flight window (paho loses QoS 1 messages past 65,535 unacknowledged ids)
  and a bounded offline buffer: ``publish`` blocks while ``max_buffered`` messages wait
  for the broker, so a broker restart loses nothing and memory stays bounded.
- Messages leave in ``publish`` order across reconnects (new ones wait behind re-sent ones).
- A retained ``status/<service>`` "online", with a retained last will "offline".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from presence.transport.busconfig import (
    PAHO_MAX_MIDS,
    PROBE_TIMEOUT_S,
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    BusConfig,
    BusError,
    default_client_id,
    learned_protocol,
    no_delay,
)
from presence.transport.dispatch import BatchHandler, Dispatcher, Handler
from presence.transport.payloads import encode_json, encode_status
from presence.transport.topics import Topics

log = logging.getLogger(__name__)

#: How often a blocked publisher or wait_published looks again (also woken by notify).
_POLL_S = 0.05

__all__ = ["BusClient"]


class BusClient:
    """A connected MQTT client; a context manager. Thread-safe ``publish``/``subscribe``.
    Implements :class:`~presence.transport.bus.Bus`."""

    def __init__(
        self,
        config: BusConfig,
        service: str,
        *,
        client_id: str | None = None,
        persistent: bool = True,
        store: str | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.persistent = persistent
        self.client_id = client_id or default_client_id(service, store, persistent)
        self._status_topic = Topics(store).status(service) if store else None
        self._cond = threading.Condition()
        self._pending: set[int] = set()
        self._early: set[int] = set()
        # Publishing in order across reconnects: publishers take turns (_order); while paho
        # may not send (not _ready) their messages wait in _held.
        self._order = threading.Lock()
        self._held: deque[tuple[str, bytes, int, bool]] = deque()
        self._ready = False
        self._subacked: set[int] = set()
        self._subrefused: dict[int, str] = {}
        self._connected = threading.Event()
        self._net_ident: int | None = None
        self._refusal: str | None = None
        self._closing = False
        self.stats = {
            "published": 0,
            "delivered": 0,
            "handler_errors": 0,
            "reconnects": 0,
            "unhandled": 0,
        }
        self._client: mqtt.Client
        self._dispatcher = Dispatcher(self.client_id, self._ack, self.stats)
        self._connect()

    # --- connection ------------------------------------------------------------------------

    def _connect(self) -> None:
        protocol = self.config.protocol
        if protocol == "auto":
            protocol = learned_protocol.get((self.config.host, self.config.port), "auto")
        protocols = {"5": ["5"], "3.1.1": ["3.1.1"], "auto": ["5", "3.1.1"]}[protocol]
        for proto in protocols:
            client = self._client = self._make_client(proto)
            self._refusal = None
            self._connected.clear()
            client.connect_async(
                self.config.host,
                self.config.port,
                self.config.keepalive_s,
                **self._connect_kw(proto),
            )
            client.loop_start()
            probing = proto == "5" and len(protocols) > 1
            outcome = self._wait_connack(
                PROBE_TIMEOUT_S if probing else self.config.connect_timeout_s
            )
            if outcome == "ok":
                self.protocol = proto
                learned_protocol[(self.config.host, self.config.port)] = proto
                return
            client.loop_stop()
            client.disconnect()
            if outcome == "refused" or not probing:
                break
        raise BusError(
            f"cannot connect to {self.config.display_url} as {self.client_id!r}: "
            f"{self._refusal or f'no answer within {self.config.connect_timeout_s:.0f} s'}"
        )

    def _wait_connack(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._connected.wait(0.02):
                return "ok"
            if self._refusal is not None:
                return "protocol" if "protocol" in self._refusal.lower() else "refused"
        return "timeout"

    def _make_client(self, proto: str) -> mqtt.Client:
        v5 = proto == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else not self.persistent,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        client.enable_logger(log)
        client.suppress_exceptions = (
            True  # a callback bug is logged; it must not kill the network loop
        )
        client.max_inflight_messages_set(self.config.max_inflight)
        client.max_queued_messages_set(PAHO_MAX_MIDS - 1)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        if self.config.username is not None:
            client.username_pw_set(self.config.username, self.config.password)
        if self.config.tls:
            client.tls_set(
                ca_certs=self.config.ca_file,
                certfile=self.config.cert_file,
                keyfile=self.config.key_file,
            )
            client.tls_insecure_set(self.config.tls_insecure)
        if self._status_topic:
            offline = encode_status(self.service, "offline", client_id=self.client_id)
            client.will_set(self._status_topic, offline, qos=1, retain=True)
        client.on_socket_open = lambda _c, _u, sock: no_delay(sock)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._dispatcher.put
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_kw(self, proto: str) -> dict[str, Any]:
        if proto != "5":
            return {}
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s if self.persistent else 0
        return {"clean_start": not self.persistent, "properties": props}

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        self._net_ident = threading.get_ident()
        if rc.is_failure:
            self._refusal = str(rc)
            log.error("%s refused by %s: %s", self.client_id, self.config.display_url, rc)
            return
        with self._cond:
            # paho re-sends what it had unacknowledged right after this callback; with
            # nothing to re-send new messages may go at once, else after the first PUBACK.
            self._ready = not self._pending
            self._cond.notify_all()
        for topic_filter, qos in self._dispatcher.subscriptions():
            client.subscribe(topic_filter, qos)
        if self._status_topic:
            online = encode_status(
                self.service, "online", client_id=self.client_id, t_s=time.time()
            )
            self._publish_raw(self._status_topic, online, 1, True)
        if self._connected.is_set() or self.stats["reconnects"] or flags.session_present:
            log.info("%s connected (session present: %s)", self.client_id, flags.session_present)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if self._connected.is_set() and not self._closing:
            self.stats["reconnects"] += 1
            log.warning(
                "%s lost %s (%s); reconnecting", self.client_id, self.config.display_url, rc
            )
        with self._cond:
            self._ready = False
        self._connected.clear()

    # --- publishing ------------------------------------------------------------------------

    def publish_json(
        self, topic: str, payload: Mapping[str, Any], *, qos: int = 1, retain: bool = False
    ) -> None:
        self.publish(topic, encode_json(payload), qos=qos, retain=retain)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        """Publish in order; blocks while the offline buffer is full (BusError after ``timeout_s``).

        Held here while paho may not send: it would send a message published between its
        reconnect and CONNACK ahead of the older ones it re-sends after CONNACK."""
        if threading.get_ident() == self._net_ident:
            self._publish_raw(topic, payload, qos, retain)  # status from on_connect
            return
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._order:
            while True:
                self._flush_held()
                with self._cond:
                    if len(self._pending) + len(self._held) < self.config.max_buffered:
                        if not self._ready:
                            self._held.append((topic, payload, qos, retain))
                            return
                        break
                    left_s = None if deadline is None else deadline - time.monotonic()
                    if left_s is not None and left_s <= 0:
                        raise BusError(
                            f"{self.config.max_buffered} messages wait for "
                            f"{self.config.display_url} for more than {timeout_s} s"
                        )
                    self._cond.wait(_POLL_S if left_s is None else min(left_s, _POLL_S))
            self._publish_raw(topic, payload, qos, retain)

    def _flush_held(self) -> None:
        """Hand held messages to paho, oldest first, once it may send them (``_order`` held)."""
        while True:
            with self._cond:
                if not (self._ready and self._held):
                    return
                topic, payload, qos, retain = self._held[0]
            self._publish_raw(topic, payload, qos, retain)
            with self._cond:  # popped only now: wait_published never sees it in neither set
                self._held.popleft()

    def _publish_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise BusError(f"publish to {topic}: {mqtt.error_string(info.rc)}")
        if qos == 0 and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return  # QoS 0 is not buffered while disconnected: it is gone, by definition
        with self._cond:
            self.stats["published"] += 1
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._pending.add(info.mid)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            if not self._ready and self._connected.is_set():
                # Acknowledgements come after CONNACK's re-sending: new messages now queue behind.
                self._ready = True
                self._cond.notify_all()
            if mid in self._pending:
                self._pending.discard(mid)
                self._cond.notify_all()
            else:
                self._early.add(mid)

    @property
    def pending(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        with self._cond:
            return len(self._pending) + len(self._held)

    def wait_published(self, timeout_s: float = 30.0) -> bool:
        """Wait until the broker acknowledged everything published so far."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._order:
                self._flush_held()
            with self._cond:
                if not self._pending and not self._held:
                    return True
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    return False
                self._cond.wait(min(left_s, _POLL_S))

    # --- subscribing -----------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Call ``handler(topic, payload)`` for every message; returns once the broker confirmed."""
        self._subscribe(topic_filter, qos, handler, None)

    def subscribe_batch(self, topic_filter: str, handler: BatchHandler, *, qos: int = 1) -> None:
        """Call ``handler([(topic, payload), ...])`` with runs of consecutive messages (up to
        DISPATCH_CHUNK): for high-rate streams, where a call per message costs more than
        the message. Acknowledged after the call returned, like ``subscribe``."""
        self._subscribe(topic_filter, qos, None, handler)

    def _subscribe(
        self, topic_filter: str, qos: int, handler: Handler | None, batch: BatchHandler | None
    ) -> None:
        self._dispatcher.add(topic_filter, qos, handler, batch)
        rc, mid = self._client.subscribe(topic_filter, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            return  # not connected now: on_connect subscribes after the reconnect
        with self._cond:
            if not self._cond.wait_for(
                lambda: mid in self._subacked, self.config.connect_timeout_s
            ):
                raise BusError(
                    f"{self.config.display_url} did not confirm subscription {topic_filter}"
                )
            self._subacked.discard(mid)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        refused = [c for c in codes if c.is_failure]
        if refused:
            log.error("%s: subscription refused: %s", self.client_id, refused[0])
        with self._cond:
            if refused:
                self._subrefused[mid] = str(refused[0])
            self._subacked.add(mid)
            self._cond.notify_all()

    def _ack(self, msgs: list[mqtt.MQTTMessage]) -> None:
        for msg in msgs:
            if msg.qos > 0:
                self._client.ack(msg.mid, msg.qos)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- lifecycle -------------------------------------------------------------------------

    def close(self, *, drain_timeout_s: float = 10.0) -> None:
        """Say "offline", let the broker acknowledge what is buffered, and disconnect."""
        self._closing = True
        if self._status_topic and self.connected:
            offline = encode_status(
                self.service, "offline", client_id=self.client_id, t_s=time.time()
            )
            self._publish_raw(self._status_topic, offline, 1, True)
        self.wait_published(drain_timeout_s)
        self._dispatcher.close(drain_timeout_s)
        self._client.loop_stop()
        self._client.disconnect()

    def __enter__(self) -> BusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
