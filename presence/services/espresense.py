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

Fixed nodes are not shoppers: each node advertises its own iBeacon (UUID
``e5ca1ade-f007-ba11-0000-000000000000``, major and minor from its chip id) and publishes
a retained alias for it, ``node:<room>``; the other nodes report it under either id.
Both are dropped and counted (``node_beacon``), whatever ``known_devices`` says.

Room ids: the firmware slugs a node's room name (``slugify``: runs of blanks, non-word
characters and ``-`` become ``_``, lower case), so "Living Room" reports as
``living_room``. Rooms and layout ids are compared by that slug: ``living-room``,
``Living Room`` and ``living_room`` in a layout all match the node.

RSSI normalisation: the engine models a receiver as ``rssi = P_1m(receiver) - 10 n log d``.
Tags differ in transmit power, and ESPresense reports each tag's 1 m reference, so the
RSSI is moved onto the receiver's reference: ``rssi - rssi@1m + tx_power(receiver)``.
A report without ``rssi@1m`` takes the last reference that device sent at that node
(the firmware's value is fixed per device and node), or, before any, the raw RSSI; both
are counted. A normalised RSSI outside the valid range is dead-lettered.

Time: reports carry no reading time, so a reading is dated when it arrives. The relay
therefore uses a clean session at QoS 0 (``run_relay``, ``instore ingest-espresense``):
a broker never keeps reports for it while it is away, which it would otherwise deliver
on return, seconds or hours late, under a fresh date (docs/beacons.md, section 6).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from beacons.observation import Observation
from beacons.validity import id_problem, rssi_ok
from presence.errors import UsageError
from presence.services.scanning import ENGINE_TICK_S, EngineSink, bus_windows
from presence.transport.bus import DeadLetters
from presence.transport.payloads import PayloadError, parse_object

if TYPE_CHECKING:
    from presence.transport.bus import Bus

__all__ = [
    "COUNTS_EVERY_S",
    "describe_counts",
    "device_is_intentional",
    "DEVICES_FILTER",
    "ESPRESENSE_ROOT",
    "EspresenseIngest",
    "EspresenseRelay",
    "EspresenseReport",
    "INTENTIONAL_ID_PREFIXES",
    "is_node_beacon",
    "MAX_REFERENCES",
    "NODE_BEACON_UUID",
    "NODE_ID_PREFIXES",
    "parse_report",
    "room_slug",
    "run_relay",
    "safe_device_id",
    "SERVICE",
    "TICK_S",
]

#: The service name in dead letters and the MQTT client id.
SERVICE = "ingest-espresense"
#: How often the relay closes due observation windows and checks the deadline.
TICK_S = 0.1
#: Seconds between the running counts of kept and dropped reports (``run_relay``).
COUNTS_EVERY_S = 60.0

#: The firmware's hard-coded base topic (espresense.com/configuration/mqtt: "CHANNEL").
ESPRESENSE_ROOT = "espresense"
DEVICES_FILTER = f"{ESPRESENSE_ROOT}/devices/+/+"
#: ESPresense id prefixes of identities advertised on purpose (firmware BleFingerprint:
#: "iBeacon:<uuid>-<major>-<minor>", "altBeacon:<id1>-<id2>-<id3>", "eddy:<namespace>-<instance>").
INTENTIONAL_ID_PREFIXES = ("iBeacon:", "altBeacon:", "eddy:")
#: The UUID of the iBeacon every ESPresense node advertises about itself (firmware
#: src/Enrollment.cpp: "iBeacon:e5ca1ade-f007-ba11-0000-000000000000-<major>-<minor>").
NODE_BEACON_UUID = "e5ca1ade-f007-ba11-0000-000000000000"
#: Device ids of nodes: their own iBeacon, and the alias a node publishes for it
#: (espresense/settings/<that id>/config = {"id": "node:<room>"}), compared in lower case.
NODE_ID_PREFIXES = (f"ibeacon:{NODE_BEACON_UUID}-", "node:")
#: The firmware's slug (lib/BleFingerprint/string_utils.cpp ``slugify``: regex
#: ``[\s\W-]+`` -> "_", lower case, "_" trimmed); std::regex's \W is ASCII-only.
_SLUG_RUNS = re.compile(r"[\s\W-]+", re.ASCII)
#: (device, node) pairs whose last rssi@1m is remembered; the oldest is forgotten past it,
#: so ids that come and go (phones' iBeacon apps) cannot grow the memory without bound.
MAX_REFERENCES = 50_000
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
    # The id rule of every other edge (issue 18): the id becomes a topic level, a Parquet
    # value and a dashboard label; '/ + # NUL' alone are mended (safe_device_id).
    problem = id_problem(safe_device_id(device))
    if problem is not None:
        raise PayloadError("invalid_id", f"'id' {device[:40]!r}: {problem}")
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


def describe_counts(counts: Mapping[str, int]) -> str:
    """``"espresense reports: kept 1518, unknown_room 175"``: what was kept and dropped."""
    return "espresense reports: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def is_node_beacon(device_id: str) -> bool:
    """True for an ESPresense node's own beacon, under its iBeacon id or its node alias."""
    return device_id.lower().startswith(NODE_ID_PREFIXES)


def room_slug(name: str) -> str:
    """A room name as the firmware publishes it: "Upstairs Hallway" -> "upstairs_hallway"."""
    return _SLUG_RUNS.sub("_", name).lower().strip("_")


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
    ``room_map`` maps an ESPresense room to a receiver id (rooms not in it are matched to
    receiver ids by :func:`room_slug`). ``counts`` tallies what was kept and dropped, by
    reason. Raises UsageError when two receivers (or two mapped rooms) share a slug.
    """

    receivers: Mapping[str, float]
    room_map: Mapping[str, str] = field(default_factory=dict)
    known_devices: Collection[str] = ()
    normalise: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    _by_slug: dict[str, str] = field(default_factory=dict, init=False)
    _references: dict[tuple[str, str], float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for what, names in (("receiver", self.receivers), ("--room-map room", self.room_map)):
            slugs: dict[str, str] = {}
            for name in names:
                other = slugs.setdefault(room_slug(name), name)
                if other != name:
                    raise UsageError(
                        f"{what}s {other!r} and {name!r} are the same ESPresense room "
                        f"{room_slug(name)!r}: rename one"
                    )
        self._by_slug = {room_slug(r): r for r in self.receivers}
        self._by_slug.update({room_slug(room): r for room, r in self.room_map.items()})

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def receiver_of(self, room: str) -> str | None:
        """The layout receiver a node's room reports for, None if the layout has none."""
        return self._by_slug.get(room_slug(room))

    def handle(self, topic: str, payload: bytes, t_s: float) -> Observation | None:
        """An observation for a usable report, None if dropped (counted). Raises
        PayloadError if malformed or if its normalised RSSI is out of range (counted)."""
        try:
            report = parse_report(topic, payload)
        except PayloadError:
            self._count("malformed")
            raise
        receiver = self.receiver_of(report.room)
        if receiver is None:
            self._count("unknown_room")
            return None
        if is_node_beacon(report.device_id):
            self._count("node_beacon")
            return None
        if not device_is_intentional(report.device_id, self.known_devices):
            self._count("not_intentional_id")
            return None
        rssi = report.rssi_dbm
        if self.normalise:
            reference = self._reference(report, receiver)
            if reference is not None:
                rssi = rssi - reference + self.receivers[receiver]
                if not rssi_ok(rssi):
                    self._count("rssi_out_of_range")
                    raise PayloadError(
                        "rssi_out_of_range",
                        f"normalised rssi {rssi:g} dBm = rssi {report.rssi_dbm:g} - rssi@1m "
                        f"{reference:g} + tx_power {self.receivers[receiver]:g} of {receiver!r}",
                    )
        self._count("kept")
        return Observation(t_s, safe_device_id(report.device_id), receiver, rssi)

    def _reference(self, report: EspresenseReport, receiver: str) -> float | None:
        """The report's rssi@1m, else the device's last one at this node, else None (raw)."""
        key = (report.device_id, receiver)
        if report.rssi_at_1m_dbm is not None:
            if key not in self._references and len(self._references) >= MAX_REFERENCES:
                del self._references[next(iter(self._references))]
            self._references[key] = report.rssi_at_1m_dbm
            return report.rssi_at_1m_dbm
        reference = self._references.get(key)
        self._count("rssi@1m_missing_reused" if reference is not None else "rssi@1m_missing_raw")
        return reference


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
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from presence.transport.topics import Topics

        self.ingest, self.bus, self.sink = ingest, bus, sink
        # A report is dated when it arrives (it carries no time): ``clock`` is that date.
        self.clock = clock
        self.topics = Topics(store)
        # Refused reports are counted by the ingest itself (``ingest.counts``).
        self.deadletters = DeadLetters(bus, self.topics.deadletter, SERVICE, clock=clock)
        self.lock = threading.Lock()
        self.windows = bus_windows(bus, store, interval_s)
        self._last_advance = time.monotonic()

    def on_message(self, topic: str, payload: bytes) -> None:
        obs = self.deadletters.decode(
            lambda t, p: self.ingest.handle(t, p, self.clock()), topic, payload
        )
        if obs is not None:
            with self.lock:
                (self.sink or self.windows.add)(obs)

    def tick(self) -> None:
        """Close due windows; move the engine's clock on once a second."""
        with self.lock:
            now = self.clock()
            self.windows.flush_due(now)
            if self.sink is not None and time.monotonic() - self._last_advance >= ENGINE_TICK_S:
                self.sink.advance(now)
                self._last_advance = time.monotonic()

    def close(self) -> None:
        with self.lock:
            self.windows.flush()
            if self.sink is not None:
                self.sink.finish()


def run_relay(
    relay: EspresenseRelay,
    seconds: float | None,
    *,
    on_counts: Callable[[Mapping[str, int]], None] | None = None,
) -> None:
    """Relay node reports from the bus until ``seconds`` elapse (or forever); every
    COUNTS_EVERY_S in which something was counted, ``on_counts(ingest.counts)``.

    QoS 0, as the nodes publish: with the clean session the bus should have (the command
    opens one), no broker ever holds reports for the relay to date late."""
    relay.bus.subscribe(DEVICES_FILTER, relay.on_message, qos=0)
    deadline = None if seconds is None else time.monotonic() + seconds
    next_counts = time.monotonic() + COUNTS_EVERY_S
    last: dict[str, int] = {}
    while deadline is None or time.monotonic() < deadline:
        time.sleep(TICK_S)
        relay.tick()
        if on_counts is not None and time.monotonic() >= next_counts:
            next_counts += COUNTS_EVERY_S
            if relay.ingest.counts != last:
                last = dict(relay.ingest.counts)
                on_counts(last)
    relay.close()
