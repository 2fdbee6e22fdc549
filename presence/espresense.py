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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from beacons.observation import RSSI_MAX_DBM, RSSI_MIN_DBM, Observation
from presence.payloads import PayloadError, parse_object

#: The firmware's hard-coded base topic (espresense.com/configuration/mqtt: "CHANNEL").
ESPRESENSE_ROOT = "espresense"
DEVICES_FILTER = f"{ESPRESENSE_ROOT}/devices/+/+"
#: ESPresense id prefixes of identities advertised on purpose (firmware BleFingerprint:
#: "iBeacon:<uuid>-<major>-<minor>", "altBeacon:<id1>-<id2>-<id3>", "eddy:<namespace>-<instance>").
INTENTIONAL_ID_PREFIXES = ("iBeacon:", "altBeacon:", "eddy:")
#: Characters that cannot appear in an MQTT topic level of ours (presence.topics).
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
    if not RSSI_MIN_DBM <= rssi < RSSI_MAX_DBM:
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
            if not RSSI_MIN_DBM <= rssi < RSSI_MAX_DBM:
                self._count("rssi_out_of_range")
                return None
        self._count("kept")
        return Observation(t_s, safe_device_id(report.device_id), receiver, rssi)
