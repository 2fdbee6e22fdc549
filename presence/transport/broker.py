"""An embedded MQTT broker (amqtt) for machines without one: in a background thread, on a chosen port.

It speaks MQTT 3.1.1 only (amqtt 0.12 has no MQTT 5), keeps sessions in memory, and is
meant for development, tests and demos; production runs Mosquitto or a cluster
(docs/mqtt.md, docs/scale.md). Clients that connect with ``clean_session=False`` get a
persistent session: amqtt drops the queue of *anonymous* sessions, so the embedded
broker never marks a client anonymous.

With a :class:`BrokerAuth` it enforces Mosquitto's password file and access list (the
files of ``examples/mosquitto/``, or the demo's per-run credentials with
``transport.access.STANDARD_ACL``): a wrong password is refused at CONNECT, a publish the
list does not grant is dropped (acknowledged, as Mosquitto does with MQTT 3.1.1), a
subscription outside the reader's rules is refused, and no delivery leaves for a topic
the reader may not read. Without one it accepts every client, so it then listens on
loopback only: binding another address without authentication is refused.

``stop(keep_sessions=True)`` followed by ``start()`` restarts the listener while keeping
sessions and their queued messages, the way Mosquitto with ``persistence true`` restarts.

A returning persistent session gets what was queued for it before anything newer, as from
Mosquitto: amqtt 0.12 marks the session connected at CONNECT but sends its queue only after
CONNACK, and sent messages published in between straight away, ahead of older ones. `run`
drops observations that arrive more than 1 s (of their own time) late, so a replay at 60x
across a broker restart lost ~1,000 of 3,955 rows to that (the flaky restart test, issue 4).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.constants import QOS_1, QOS_2
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from presence.errors import PresenceError
from presence.transport.access import AccessList
from presence.transport.credentials import RunCredentials, read_password_file, verify_password
from presence.transport.ports import free_port

__all__ = [
    "BrokerAuth",
    "BrokerError",
    "EmbeddedBroker",
    "OpenAuthPlugin",
    "start_embedded_broker",
]

log = logging.getLogger(__name__)

#: How long start/stop may take before we call the broker broken.
_START_TIMEOUT_S = 15.0
#: How long a restart waits for deliveries in progress to be acknowledged.
_DRAIN_TIMEOUT_S = 3.0
#: Session attribute: False from a client's CONNECT until the messages queued for its
#: session while it was away are on their way; until then newer messages join that queue.
_CAUGHT_UP = "instore.caught_up"
#: Session attribute: QoS 1/2 messages sent to a persistent session whose connection died
#: before their acknowledgement, (topic, data, qos) in sending order. amqtt 0.12 drops them
#: (the flow's waiter is cancelled and the message leaves ``inflight_out``); a killed
#: `instore run` then missed a few observations. They go out first when it returns.
_UNACKED = "instore.unacked"


class BrokerError(PresenceError):
    """The embedded broker could not start or stop."""


@dataclass(frozen=True, slots=True)
class BrokerAuth:
    """Who may connect (user -> Mosquitto password hash) and what each may do (access list)."""

    users: Mapping[str, str] = field(repr=False)
    acl: AccessList

    @classmethod
    def from_files(cls, password_file: Path | str, acl_file: Path | str) -> BrokerAuth:
        """Mosquitto's ``password_file`` and ``acl_file`` (examples/mosquitto/)."""
        return cls(read_password_file(password_file), AccessList.read(acl_file))

    @classmethod
    def for_run(cls, credentials: RunCredentials) -> BrokerAuth:
        """The per-run users of ``credentials`` under the standard access list."""
        return cls(credentials.hashed(), AccessList.standard())

    def authenticate(self, username: str | None, password: str | None) -> bool:
        hashed = self.users.get(username or "")
        return hashed is not None and password is not None and verify_password(password, hashed)

    def permits(self, session: Session | None, topic: str, action: Action) -> bool:
        if session is None:
            return False
        user, client = session.username, session.client_id
        if action == Action.PUBLISH:
            return self.acl.may_publish(user, topic, client)
        if action == Action.SUBSCRIBE:
            return self.acl.may_subscribe(user, topic, client)
        return self.acl.may_receive(user, topic, client)


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the broker reachable from this machine only."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OpenAuthPlugin(BaseAuthPlugin):
    """Accept every client as a named (not anonymous) one, so persistent sessions keep their queue."""

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Session) -> bool | None:
        session.is_anonymous = False
        session.attributes[_CAUGHT_UP] = False  # amqtt marks it connected right after this
        return True


class _OrderedBroker(Broker):
    """amqtt's broker, delivering a returning session's queue before newer messages, and
    enforcing ``auth`` (checked here directly: amqtt's plugin calls cost a task each, per
    delivery)."""

    auth: BrokerAuth | None = None
    #: What the access rules refused: "connect", "publish", "subscribe", "receive".
    refusals: Counter[str]

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        if self.auth is None:
            return await super()._authenticate(session, listener)
        if not self.auth.authenticate(session.username, session.password):
            self.refusals["connect"] += 1
            log.warning(
                "embedded broker: refused %r (user %r): bad user or password",
                session.client_id,
                session.username,
            )
            return False
        session.is_anonymous = False
        session.attributes[_CAUGHT_UP] = False
        return True

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if self.auth is None:
            return True
        allowed = self.auth.permits(session, topic, action)
        if not allowed:
            self.refusals[action.value] += 1
        if not allowed and action != Action.RECEIVE:
            log.info(
                "embedded broker: %s by %r (user %r) on %s refused by the access list",
                action.value,
                session.client_id if session else None,
                session.username if session else None,
                topic,
            )
        return allowed

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        # amqtt leaves a client's socket open when the client fails before its session exists
        # (EOF before CONNECT) or connects while the broker shuts down: close it when amqtt is
        # done with the connection, and remember every stream so `shut` closes the rest.
        self.__dict__.setdefault("_streams", weakref.WeakSet()).add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            if not writer.transport.is_closing():
                writer.close()

    async def shut(self) -> None:
        """amqtt's shutdown, then abort whatever connection it left open (a leaked socket
        surfaces later as a ResourceWarning in whichever code the garbage collector runs)."""
        await self.shutdown()
        for writer in list(self.__dict__.get("_streams", ())):
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _run_broadcast(self, running_tasks: deque[asyncio.Task[Any]]) -> None:
        # amqtt 0.12's own, except that a session counts as connected only once caught up.
        broadcast = await self._broadcast_queue.get()
        topic = broadcast["topic"]
        for k_filter, subscriptions in self._subscriptions.items():
            if not self._matches(topic, k_filter):
                continue
            for session, sub_qos in subscriptions:
                qos = broadcast.get("qos", sub_qos)
                if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                    continue
                connected = session.transitions.state == "connected"
                if (
                    not (connected and session.attributes.get(_CAUGHT_UP, True))
                    and not session.clean_session
                    and qos in (QOS_1, QOS_2)
                    and not session.is_anonymous
                ):
                    await self._retain_broadcast_message(broadcast, qos, session)
                    continue
                handler = self._get_handler(session) if connected else None
                if handler:
                    task = _deliver(session, handler, topic, broadcast["data"], qos)
                    running_tasks.append(asyncio.ensure_future(task))

    async def _publish_session_retained_messages(self, session: Session) -> None:
        tasks = []
        handler = self._get_handler(session)
        if handler:
            # What the last connection left unacknowledged first, then the queue, in order.
            queued = session.attributes.pop(_UNACKED, [])
            while not session.retained_messages.empty():
                msg = session.retained_messages.get_nowait()
                queued.append((msg.topic, msg.data, msg.qos))
            for topic, data, qos in queued:
                tasks.append(asyncio.ensure_future(_deliver(session, handler, topic, data, qos)))
        # From here on new messages go out directly, behind the queue's (tasks run in order).
        session.attributes[_CAUGHT_UP] = True
        if tasks:
            await asyncio.wait(tasks)


async def _deliver(session: Session, handler: Any, topic: str, data: Any, qos: int) -> None:
    """Publish to a session; if its connection dies before the acknowledgement, keep the
    message for the session's return (a persistent one: MQTT-4.4.0-1)."""
    try:
        # retain=False: queued for a subscription, not a retained message (MQTT-3.3.1-9)
        await handler.mqtt_publish(topic, data, qos, retain=False)
    except BaseException:
        if qos in (QOS_1, QOS_2) and not session.clean_session and not session.is_anonymous:
            session.attributes.setdefault(_UNACKED, []).append((topic, data, qos))
        raise


def _broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}
        },
        "plugins": {"presence.transport.broker.OpenAuthPlugin": {}},
    }


class EmbeddedBroker:
    """amqtt running on its own event loop thread. ``url`` is ``mqtt://host:port``."""

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", *, auth: BrokerAuth | None = None
    ) -> None:
        if auth is None and not is_loopback(host):
            raise BrokerError(
                f"listening on {host} serves the bus to the network: the embedded broker "
                "then needs users and an access list (instore broker --password-file FILE "
                "--acl-file FILE, e.g. examples/mosquitto/; see docs/security.md)"
            )
        self.host = host
        self.auth = auth
        #: What the access rules refused since creation, by kind ("connect", "publish", ...).
        self.refusals: Counter[str] = Counter()
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"amqtt-{self.port}", daemon=True
        )
        self._thread.start()
        self._broker: _OrderedBroker | None = None
        self._suspended = False

    @property
    def url(self) -> str:
        # amqtt speaks 3.1.1 only; saying so spares every client the MQTT 5 probe.
        return f"mqtt://{self.host}:{self.port}?protocol=3.1.1"

    @property
    def running(self) -> bool:
        return self._broker is not None and not self._suspended

    def _call(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout=_START_TIMEOUT_S)

    def start(self) -> EmbeddedBroker:
        if self._broker is not None and not self._suspended:
            return self
        try:
            if self._broker is not None:
                self._call(self._broker._start_listeners())
                self._suspended = False
            else:
                self._broker = self._call(self._start())
        except Exception as e:  # amqtt raises its own BrokerError, OSError, timeouts
            raise BrokerError(f"embedded broker could not listen on {self.url}: {e}") from e
        log.info("embedded MQTT broker listening on %s", self.url)
        return self

    async def _start(self) -> _OrderedBroker:
        broker = _OrderedBroker(_broker_config(self.host, self.port))
        broker.auth = self.auth
        broker.refusals = self.refusals
        await broker.start()
        return broker

    def stop(self, *, keep_sessions: bool = False) -> None:
        """Close every connection and the listener.

        With ``keep_sessions`` the broker's memory (sessions, subscriptions, queued and
        retained messages) survives until the next ``start()``, as on a broker that
        persists its state; clients see a dead socket, exactly as in a crash.
        """
        if self._broker is None or self._suspended:
            return
        if keep_sessions:
            self._call(self._suspend(self._broker))
            self._suspended = True
            return
        broker, self._broker = self._broker, None
        self._call(broker.shut())

    @staticmethod
    async def _suspend(broker: Broker) -> None:
        # amqtt 0.12 has no pause, and its shutdown drops every session. Instead: close the
        # listener, cut the publishers (clients without subscriptions: they buffer and resend),
        # let the deliveries in progress finish (amqtt loses a QoS 1 message it is writing
        # when the socket dies; a persistent broker would have it on disk), then cut the rest.
        # The broker then keeps the disconnected persistent sessions and queues for them.
        for server in broker._servers.values():
            if server.instance is not None:
                server.instance.close()
        subscribed = {id(sess) for subs in broker._subscriptions.values() for sess, _qos in subs}
        sessions = list(broker._sessions.values())
        _abort([h for sess, h in sessions if id(sess) not in subscribed])
        deadline = asyncio.get_running_loop().time() + _DRAIN_TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline and (
            not broker._broadcast_queue.empty()
            or any(not t.done() for t in broker._tasks_queue)
            or any(sess.inflight_out for sess, _h in sessions)
        ):
            await asyncio.sleep(0.01)
        _abort([h for _sess, h in sessions])

    def close(self) -> None:
        """Stop the broker and its thread."""
        if self._suspended and self._broker is not None:
            # A suspended broker still holds its sessions; a full shutdown releases them.
            self._suspended = False
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_START_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_embedded_broker(
    port: int = 0, host: str = "127.0.0.1", *, auth: BrokerAuth | None = None
) -> EmbeddedBroker:
    """Start amqtt on ``port`` (0: a free one) in a background thread; ``.url``, ``.stop()``, ``.close()``."""
    return EmbeddedBroker(port, host, auth=auth).start()


def _abort(handlers: list[Any]) -> None:
    for handler in handlers:
        writer = getattr(handler, "writer", None)
        stream = getattr(writer, "_writer", None)
        if stream is not None:
            stream.transport.abort()
