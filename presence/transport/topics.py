"""Every MQTT topic of instore, built from validated parts (no topic string is typed elsewhere).

Layout (docs/mqtt.md)::

    instore/v1/<store>/obs/<device>          one message per device per scan (QoS 1)
    instore/v1/<store>/events/<type>         CloudEvents, <type> without the "instore." prefix
    instore/v1/<store>/positions/<device>    rate-limited positions
    instore/v1/<store>/deadletter            messages a service could not use, with the reason
    instore/v1/<store>/status/<service>      retained "online"/"offline" (last will)
    instore/v1/<store>/staff/alerts          personal data: restricted by the broker's ACL
    instore/v1/<store>/messages/<device>     welcome messages
    instore/v1/<store>/control               a replay's end of stream, to the live engine

The version segment ``v1`` changes only if the layout itself changes; payload schemas
carry their own version (presence.transport.payloads).
"""

from __future__ import annotations

from dataclasses import dataclass

from presence.errors import PresenceError

__all__ = [
    "ALL_DEADLETTER_FILTER",
    "ALL_EVENTS_FILTER",
    "ALL_OBS_FILTER",
    "ALL_POSITIONS_FILTER",
    "check_level",
    "EVENT_TYPE_PREFIX",
    "parse_topic",
    "ParsedTopic",
    "ROOT",
    "SCANNER_SERVICE_PREFIX",
    "scanner_service",
    "TopicError",
    "Topics",
]

ROOT = "instore/v1"
#: Characters a topic level may not contain: the separator, the MQTT wildcards, and NUL (MQTT 5 4.7.3).
_FORBIDDEN = ("/", "+", "#", "\x00")
#: Prefix of every presence event type (ARCHITECTURE 3.3); topics use the rest.
EVENT_TYPE_PREFIX = "instore."
#: A Bluetooth scanner is the service ``scan-<device>``: its own client id and status topic.
SCANNER_SERVICE_PREFIX = "scan-"


class TopicError(PresenceError):
    """A store, device, service or event type cannot be used as a topic level."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(
            f"{field} {value!r} cannot be a topic level: it must be non-empty and contain none of / + # NUL"
        )
        self.field = field
        self.value = value


def check_level(field: str, value: str) -> str:
    """Return ``value`` if it is a usable topic level, else raise TopicError naming ``field``."""
    if not isinstance(value, str) or not value or any(c in value for c in _FORBIDDEN):
        raise TopicError(field, str(value))
    return value


def scanner_service(device_id: str) -> str:
    """The bus service of one scanner; its status topic is ``status/scan-<device>``."""
    return f"{SCANNER_SERVICE_PREFIX}{check_level('device_id', device_id)}"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one store."""

    store: str

    def __post_init__(self) -> None:
        check_level("store", self.store)

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.store}"

    def obs(self, device_id: str) -> str:
        return f"{self.base}/obs/{check_level('device_id', device_id)}"

    @property
    def obs_filter(self) -> str:
        return f"{self.base}/obs/+"

    def event(self, event_type: str) -> str:
        short = event_type.removeprefix(EVENT_TYPE_PREFIX)
        return f"{self.base}/events/{check_level('event_type', short)}"

    @property
    def events_filter(self) -> str:
        return f"{self.base}/events/#"

    def position(self, device_id: str) -> str:
        return f"{self.base}/positions/{check_level('device_id', device_id)}"

    @property
    def positions_filter(self) -> str:
        return f"{self.base}/positions/+"

    @property
    def deadletter(self) -> str:
        return f"{self.base}/deadletter"

    def status(self, service: str) -> str:
        return f"{self.base}/status/{check_level('service', service)}"

    @property
    def status_filter(self) -> str:
        return f"{self.base}/status/+"

    @property
    def staff_alerts(self) -> str:
        return f"{self.base}/staff/alerts"

    @property
    def control(self) -> str:
        """Control messages of a replay (end of stream) to the live engine."""
        return f"{self.base}/control"

    def message(self, device_id: str) -> str:
        return f"{self.base}/messages/{check_level('device_id', device_id)}"

    @property
    def messages_filter(self) -> str:
        return f"{self.base}/messages/+"


#: Filters over every store, for tools that tail or archive a whole broker.
ALL_OBS_FILTER = f"{ROOT}/+/obs/+"
ALL_EVENTS_FILTER = f"{ROOT}/+/events/#"
ALL_POSITIONS_FILTER = f"{ROOT}/+/positions/+"
ALL_DEADLETTER_FILTER = f"{ROOT}/+/deadletter"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A topic split back into its parts; ``key`` is the device, event type or service, "" if none."""

    store: str
    kind: str
    key: str


def parse_topic(topic: str) -> ParsedTopic:
    """Split an instore topic; raises TopicError if it is not one."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != ROOT:
        raise TopicError("topic", topic)
    store, kind = parts[2], parts[3]
    key = "/".join(parts[4:])
    return ParsedTopic(store=store, kind=kind, key=key)
