"""Where the broker is and how the bus client behaves: :class:`BusConfig` and its limits."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from presence.errors import PresenceError

__all__ = [
    "BusConfig",
    "BusError",
    "default_client_id",
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_MAX_INFLIGHT",
    "learned_protocol",
    "MAX_PARKED",
    "no_delay",
    "PAHO_MAX_MIDS",
    "PROBE_TIMEOUT_S",
    "RECONNECT_MAX_S",
    "RECONNECT_MIN_S",
]

#: paho numbers unacknowledged messages with 16-bit ids; past 65,535 it reuses them and
#: QoS 1 messages are lost silently, so the offline buffer must stay well below that.
PAHO_MAX_MIDS = 65_535
#: Mosquitto's default receive maximum (max_inflight_messages 20); a broker's MQTT 5
#: CONNACK may lower it further, and the client then follows the broker.
DEFAULT_MAX_INFLIGHT = 20
#: Messages a publisher holds for the broker (in flight + queued while it is away).
#: At 20,000 obs/s in ~4,000 messages/s this rides out ~10 s of broker outage before
#: ``publish`` blocks (backpressure, nothing dropped).
DEFAULT_MAX_BUFFERED = 40_000
#: Backoff between reconnect attempts, seconds (paho doubles from min to max).
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 8
#: Messages held for a handler not subscribed yet (then acknowledged and dropped, logged).
MAX_PARKED = 10_000
#: How long "auto" waits for an MQTT 5 CONNACK before trying 3.1.1: amqtt 0.12 does not
#: answer an MQTT 5 CONNECT at all. Learned once per broker and process.
PROBE_TIMEOUT_S = 2.0
#: Protocol each broker (host, port) answered, so only the first client of a process probes.
learned_protocol: dict[tuple[str, int], str] = {}


def no_delay(sock: object) -> None:
    """Send small packets (PUBACKs) at once: with Nagle and delayed ACKs each one waits ~40 ms,
    which caps a QoS 1 stream with 20 messages in flight at ~500 messages/s."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BusError(PresenceError):
    """The bus cannot be used: bad URL, broker unreachable, refused credentials, buffer stuck."""


@dataclass(frozen=True, slots=True)
class BusConfig:
    """Where the broker is and how to talk to it.

    ``url`` is ``mqtt://[user:pass@]host[:port]`` or ``mqtts://...`` (TLS, port 8883 by default).
    ``protocol`` is "auto" (MQTT 5, else 3.1.1), "5" or "3.1.1"; a ``?protocol=3.1.1`` query
    in the URL sets it too (the embedded broker's URL carries one).
    """

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    protocol: str = "auto"
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    max_buffered: int = DEFAULT_MAX_BUFFERED
    connect_timeout_s: float = 15.0
    host: str = field(init=False)
    port: int = field(init=False)
    tls: bool = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BusError(
                f"broker URL {self.url!r}: expected mqtt://host:port or mqtts://host:port"
            )
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError as e:
            raise BusError(f"broker URL {self.url!r}: {e}") from None
        object.__setattr__(self, "host", parts.hostname)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "tls", parts.scheme == "mqtts")
        if parts.username and self.username is None:
            object.__setattr__(self, "username", unquote(parts.username))
            object.__setattr__(self, "password", unquote(parts.password or "") or None)
        query = dict(parse_qsl(parts.query))
        if "protocol" in query and self.protocol == "auto":
            object.__setattr__(self, "protocol", query["protocol"])
        if self.protocol not in ("auto", "5", "3.1.1"):
            raise BusError(f"protocol {self.protocol!r}: expected auto, 5 or 3.1.1")
        if not 0 < self.max_buffered < PAHO_MAX_MIDS:
            raise BusError(f"max_buffered {self.max_buffered} must be in 1..{PAHO_MAX_MIDS - 1}")

    @property
    def display_url(self) -> str:
        """The URL without credentials, for logs and messages."""
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


def default_client_id(service: str, store: str | None, persistent: bool) -> str:
    """Stable for persistent sessions (same service, store and host), random otherwise."""
    if persistent:
        return f"instore-{service}-{store or 'all'}-{socket.gethostname()}"[:128]
    return f"instore-{service}-{uuid.uuid4().hex[:12]}"
