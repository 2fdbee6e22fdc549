"""ESPresense ingest: fixed ESP32 receiver nodes hearing tags, as our observations.

ESPresense nodes (espresense.com) publish, per device heard, JSON on
``espresense/devices/<device id>/<room>`` with fields such as ``rssi`` (dBm),
``rssi@1m`` (the tag's 1 m reference, dBm), ``distance`` (m), ``raw``, ``mac``.
In this topology the tag is the *device* and the room node is the layout's *beacon*
(ARCHITECTURE 1): a node's room name is a receiver id of the layout, or is mapped to
one with ``room_map``.

Privacy: ESPresense also reports devices by MAC address or by fingerprints of their
traffic (``apple:1005:...``, ``md:...``, ``sonos:<mac>``). Only identities a device
advertises on purpose are kept (iBeacon, AltBeacon, Eddystone-UID ids) plus ids the
store lists as known; everything else is counted and dropped, never stored or sent on.

RSSI normalisation: the engine models a receiver as ``rssi = P_1m(receiver) - 10 n log d``.
Tags differ in transmit power, and ESPresense reports each tag's 1 m reference, so the
RSSI is moved onto the receiver's reference: ``rssi - rssi@1m + tx_power(receiver)``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from beacons.observation import Observation
from beacons.validity import rssi_ok
from presence.services.scanning import ENGINE_TICK_S, EngineSink, bus_windows
from presence.transport.bus import DeadLetters
from presence.transport.payloads import PayloadError, parse_object

if TYPE_CHECKING:
    from presence.transport.bus import Bus

__all__ = [
    "device_is_intentional",
    "DEVICES_FILTER",
    "ESPRESENSE_ROOT",
    "EspresenseIngest",
    "EspresenseRelay",
    "EspresenseReport",
    "INTENTIONAL_ID_PREFIXES",
    "parse_report",
    "run_relay",
    "safe_device_id",
    "SERVICE",
    "TICK_S",
]

#: The service name in dead letters and the MQTT client id.
SERVICE = "ingest-espresense"
#: How often the relay closes due observation windows and checks the deadline.
TICK_S = 0.1

#: The firmware's hard-coded base topic (espresense.com/configuration/mqtt: "CHANNEL").
ESPRESENSE_ROOT = "espresense"
DEVICES_FILTER = f"{ESPRESENSE_ROOT}/devices/+/+"
#: ESPresense id prefixes of identities advertised on purpose (firmware BleFingerprint:
#: "iBeacon:<uuid>-<major>-<minor>", "altBeacon:<id1>-<id2>-<id3>", "eddy:<namespace>-<instance>").
INTENTIONAL_ID_PREFIXES = ("iBeacon:", "altBeacon:", "eddy:")
#: Characters that cannot appear in an MQTT topic level of ours (presence.transport.topics).
_TOPIC_UNSAFE = ("/", "+", "#", "\x00")


@dataclass(frozen=True, slots=True)
class EspresenseReport:
    """One node report: ``room`` heard ``device_id`` at ``rssi_dbm``."""

    device_id: str
    room: str
    rssi_dbm: float
    rssi_at_1m_dbm: float | None
    distance_m: float | None


def _required_number(obj: Mapping[str, Any], key: str) -> float:
    value = _number(obj, key)
    if value is None:
        raise PayloadError("missing_field", f"{key!r} is missing")
    return value


def _number(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadError("wrong_type", f"{key!r} must be a number, got {value!r}")
    return float(value)


def parse_report(topic: str, payload: bytes) -> EspresenseReport:
    """Parse one ``espresense/devices/<id>/<room>`` message; PayloadError names the reason."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != [ESPRESENSE_ROOT, "devices"] or not parts[2] or not parts[3]:
        raise PayloadError("wrong_type", f"topic {topic!r} is not espresense/devices/<id>/<room>")
    obj = parse_object(payload)
    rssi = _required_number(obj, "rssi")
    if not rssi_ok(rssi):
        raise PayloadError("rssi_out_of_range", f"rssi = {rssi} dBm")
    device = obj.get("id", parts[2])
    if not isinstance(device, str) or not device:
        raise PayloadError("wrong_type", f"'id' must be a non-empty string, got {device!r}")
    return EspresenseReport(
        device_id=device,
        room=parts[3],
        rssi_dbm=rssi,
        rssi_at_1m_dbm=_number(obj, "rssi@1m"),
        distance_m=_number(obj, "distance"),
    )


def device_is_intentional(device_id: str, known: Collection[str] = ()) -> bool:
    """True for identities a device advertises on purpose, or ids listed as known."""
    return device_id in known or device_id.startswith(INTENTIONAL_ID_PREFIXES)


def safe_device_id(device_id: str) -> str:
    """The id usable as a topic level of ours (ESPresense ids may in principle hold '/')."""
    out = device_id
    for c in _TOPIC_UNSAFE:
        out = out.replace(c, "_")
    return out


@dataclass(slots=True)
class EspresenseIngest:
    """Turns node reports into observations of the layout's receivers.

    ``receivers`` maps receiver id -> its tx_power (RSSI at 1 m, dBm) in the layout;
    ``room_map`` maps an ESPresense room to a receiver id (rooms not in it are taken
    as receiver ids themselves). ``counts`` tallies what was kept and dropped, by reason.
    """

    receivers: Mapping[str, float]
    room_map: Mapping[str, str] = field(default_factory=dict)
    known_devices: Collection[str] = ()
    normalise: bool = True
    counts: dict[str, int] = field(default_factory=dict)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def handle(self, topic: str, payload: bytes, t_s: float) -> Observation | None:
        """An observation for a usable report, None if dropped. Raises PayloadError if malformed."""
        try:
            report = parse_report(topic, payload)
        except PayloadError:
            self._count("malformed")
            raise
        receiver = self.room_map.get(report.room, report.room)
        if receiver not in self.receivers:
            self._count("unknown_room")
            return None
        if not device_is_intentional(report.device_id, self.known_devices):
            self._count("not_intentional_id")
            return None
        rssi = report.rssi_dbm
        if self.normalise and report.rssi_at_1m_dbm is not None:
            rssi = rssi - report.rssi_at_1m_dbm + self.receivers[receiver]
            if not rssi_ok(rssi):
                self._count("rssi_out_of_range")
                return None
        self._count("kept")
        return Observation(t_s, safe_device_id(report.device_id), receiver, rssi)


class EspresenseRelay:
    """Bus handler: reports -> observations -> scan messages (or the engine); bad ones dead-lettered.

    The bus calls ``on_message`` from its dispatcher thread and the main loop calls
    ``tick``; one lock keeps the windows and the engine consistent.
    """

    def __init__(
        self,
        ingest: EspresenseIngest,
        bus: Bus,
        store: str,
        interval_s: float,
        sink: EngineSink | None,
    ) -> None:
        from presence.transport.topics import Topics

        self.ingest, self.bus, self.sink = ingest, bus, sink
        self.topics = Topics(store)
        # Refused reports are counted by the ingest itself (``ingest.counts``).
        self.deadletters = DeadLetters(bus, self.topics.deadletter, SERVICE)
        self.lock = threading.Lock()
        self.windows = bus_windows(bus, store, interval_s)
        self._last_advance = time.monotonic()

    def on_message(self, topic: str, payload: bytes) -> None:
        obs = self.deadletters.decode(
            lambda t, p: self.ingest.handle(t, p, time.time()), topic, payload
        )
        if obs is not None:
            with self.lock:
                (self.sink or self.windows.add)(obs)

    def tick(self) -> None:
        """Close due windows; move the engine's clock on once a second."""
        with self.lock:
            self.windows.flush_due(time.time())
            if self.sink is not None and time.monotonic() - self._last_advance >= ENGINE_TICK_S:
                self.sink.advance(time.time())
                self._last_advance = time.monotonic()

    def close(self) -> None:
        with self.lock:
            self.windows.flush()
            if self.sink is not None:
                self.sink.finish()


def run_relay(relay: EspresenseRelay, seconds: float | None) -> None:
    """Relay node reports from the bus until ``seconds`` elapse (or forever)."""
    relay.bus.subscribe(DEVICES_FILTER, relay.on_message)
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        time.sleep(TICK_S)
        relay.tick()
    relay.close()
