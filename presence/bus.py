"""The MQTT client every instore service uses: paho-mqtt 2.x behind a small, safe face.

What it guarantees (docs/mqtt.md explains each):

- MQTT 5 when the broker speaks it, else 3.1.1 (amqtt); ``protocol=`` in the config forces one.
- Persistent sessions (``persistent=True``): a fixed client id, ``clean_start=False`` and a
  session expiry (v5) or ``clean_session=False`` (v3.1.1), so a restarted consumer receives
  the QoS 1 messages it missed.
- Messages are acknowledged *after* the handler returned (manual ack on a dispatcher
  thread), so a consumer killed mid-message gets it again; handlers must be idempotent
  (every event has an id). A handler that raises is logged and counted, never fatal.
- Reconnect with exponential backoff; every subscription is renewed on reconnect.
- A bounded in-flight window (paho loses QoS 1 messages past 65,535 unacknowledged ids)
  and a bounded offline buffer: ``publish`` blocks while ``max_buffered`` messages wait
  for the broker, so a broker restart loses nothing and memory stays bounded.
- A retained ``status/<service>`` "online", with a retained last will "offline".
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from presence.busconfig import (
    DEFAULT_MAX_BUFFERED,
    DEFAULT_MAX_INFLIGHT,
    MAX_PARKED,
    PAHO_MAX_MIDS,
    PROBE_TIMEOUT_S,
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    BusConfig,
    BusError,
    default_client_id,
    learned_protocol,
)
from presence.payloads import encode_status
from presence.topics import Topics

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
#: Receives a run of consecutive messages at once: ``[(topic, payload), ...]`` in arrival order.
BatchHandler = Callable[[list[tuple[str, bytes]]], None]
#: Messages the dispatcher takes from the inbox at once (one lock hand-off for all, one
#: call per run of consecutive messages for a batch handler). 2,000 messages are ~0.5-1 s
#: of what `instore run` handles at full speed, and bound how long acknowledgements wait.
DISPATCH_CHUNK = 2_000
#: Distinct topics whose matching subscriptions are remembered (one per device and type).
ROUTE_CACHE_SIZE = 50_000

__all__ = [
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_MAX_INFLIGHT",
    "BatchHandler",
    "BusClient",
    "BusConfig",
    "BusError",
    "default_client_id",
]


def _no_delay(_c: mqtt.Client, _u: Any, sock: Any) -> None:
    """Send small packets (PUBACKs) at once: with Nagle and delayed ACKs each one waits ~40 ms,
    which caps a QoS 1 stream with 20 messages in flight at ~500 messages/s."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BusClient:
    """A connected MQTT client; a context manager. Thread-safe ``publish``/``subscribe``."""

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
        self._subs: dict[str, tuple[int, Handler | None, BatchHandler | None]] = {}
        self._routes: dict[str, tuple[list[Handler], BatchHandler | None]] = {}
        self._subacked: set[int] = set()
        self._subrefused: dict[int, str] = {}
        self._inbox: deque[mqtt.MQTTMessage | None] = deque()
        self._parked: deque[mqtt.MQTTMessage] = deque()
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
        self._connect()
        self._dispatcher = threading.Thread(
            target=self._dispatch, name=f"bus-{service}", daemon=True
        )
        self._dispatcher.start()

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
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
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
        for topic_filter, (qos, _h, _b) in list(self._subs.items()):
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
        self._connected.clear()

    # --- publishing ------------------------------------------------------------------------

    def publish_json(
        self, topic: str, payload: Mapping[str, Any], *, qos: int = 1, retain: bool = False
    ) -> None:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        self.publish(topic, body, qos=qos, retain=retain)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        """Publish; blocks while the offline buffer is full (raises BusError after ``timeout_s``)."""
        if threading.get_ident() != self._net_ident:
            with self._cond:
                if not self._cond.wait_for(
                    lambda: len(self._pending) < self.config.max_buffered, timeout_s
                ):
                    raise BusError(
                        f"{self.config.max_buffered} messages wait for {self.config.display_url} "
                        f"for more than {timeout_s} s"
                    )
        self._publish_raw(topic, payload, qos, retain)

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
            if mid in self._pending:
                self._pending.discard(mid)
                self._cond.notify_all()
            else:
                self._early.add(mid)

    @property
    def pending(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        with self._cond:
            return len(self._pending)

    def wait_published(self, timeout_s: float = 30.0) -> bool:
        """Wait until the broker acknowledged everything published so far."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout_s)

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
        with self._cond:
            self._subs[topic_filter] = (qos, handler, batch)
            self._routes.clear()
            self._inbox.extendleft(reversed(self._parked))
            self._parked.clear()
            self._cond.notify_all()
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

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._inbox.append(msg)
            self._cond.notify_all()

    def _take(self) -> tuple[list[mqtt.MQTTMessage], bool]:
        """Up to DISPATCH_CHUNK messages in arrival order, and whether the close sentinel came."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._inbox))
            out: list[mqtt.MQTTMessage] = []
            while self._inbox and len(out) < DISPATCH_CHUNK:
                msg = self._inbox.popleft()
                if msg is None:
                    return out, True
                out.append(msg)
            return out, False

    def _route(self, topic: str) -> tuple[list[Handler], BatchHandler | None]:
        route = self._routes.get(topic)
        if route is None:
            handlers: list[Handler] = []
            batch: BatchHandler | None = None
            for f, (_q, h, b) in list(self._subs.items()):
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

    def _dispatch(self) -> None:
        closing = False
        while not closing:
            msgs, closing = self._take()
            run: list[mqtt.MQTTMessage] = []  # consecutive messages for one batch handler
            run_handler: BatchHandler | None = None
            for msg in msgs:
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

    def _handle(self, msg: mqtt.MQTTMessage, handlers: list[Handler]) -> None:
        if not handlers and len(self._parked) < MAX_PARKED:
            # A persistent session delivers what it missed right after CONNACK, possibly
            # before subscribe() named the handler: keep it (unacknowledged) until then.
            self._parked.append(msg)
            return
        if not handlers:
            self.stats["unhandled"] += 1
            log.warning("%s: no handler for %s; dropped", self.client_id, msg.topic)
        self._call(msg, handlers)
        self._ack([msg])

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
        self._ack(msgs)

    def _ack(self, msgs: list[mqtt.MQTTMessage]) -> None:
        self.stats["delivered"] += len(msgs)
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
        with self._cond:
            self._inbox.append(None)
            self._cond.notify_all()
        self._dispatcher.join(timeout=drain_timeout_s)
        self._client.loop_stop()
        self._client.disconnect()

    def __enter__(self) -> BusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
