"""Bus payloads: JSON with a schema version, and decoders whose errors name a reason.

Each decode raises :class:`PayloadError` with a short machine ``reason`` (the dead-letter
payload carries it, and services count by it) and a human ``detail``.

Schemas (golden examples in docs/mqtt.md, pinned by tests/presence/transport/test_payloads.py):

- observations ``instore.obs/1``: one device, one scan, ``{"beacon id": rssi_dbm}``
- events: CloudEvents 1.0 (ARCHITECTURE 3.3) with ``dataschema`` ``instore:presence-event/1``
- positions ``instore.position/1``; dead letters ``instore.deadletter/1``; status ``instore.status/1``
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from beacons.observation import ObservationBatch
from beacons.validity import id_problem, rssi_ok, time_problem
from positioning.errors import PositioningError
from positioning.events import PresenceEvent
from presence.errors import PresenceError

__all__ = [
    "encode_json",
    "CONTROL_SCHEMA",
    "DEADLETTER_EXCERPT_BYTES",
    "DEADLETTER_SCHEMA",
    "decode_control",
    "decode_deadletter",
    "decode_event",
    "decode_observations",
    "decode_position",
    "decode_status",
    "encode_control",
    "encode_deadletter",
    "encode_event",
    "encode_observations",
    "encode_position",
    "encode_scan",
    "encode_status",
    "END_OF_STREAM",
    "EVENT_DATASCHEMA",
    "MAX_PAYLOAD_BYTES",
    "MAX_SCAN_SPAN_S",
    "OBS_SCHEMA",
    "PayloadError",
    "parse_object",
    "POSITION_SCHEMA",
    "PositionMessage",
    "REASONS",
    "ScanMessage",
    "STATUS_SCHEMA",
]

OBS_SCHEMA = "instore.obs/1"
EVENT_DATASCHEMA = "instore:presence-event/1"
POSITION_SCHEMA = "instore.position/1"
DEADLETTER_SCHEMA = "instore.deadletter/1"
STATUS_SCHEMA = "instore.status/1"
CONTROL_SCHEMA = "instore.control/1"
#: The one control command: a replay reached the end of its log (the engine closes open visits).
END_OF_STREAM = "end_of_stream"
#: Largest payload a service accepts. A scan of 255 beacons is ~8 KiB; 64 KiB leaves room
#: and keeps one hostile message from costing real memory.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Longest time one scan message may span (its "dt" offsets), seconds: well past any
#: scan window a gateway would use, short enough that the engine's reordering copes.
MAX_SCAN_SPAN_S = 10.0
#: How much of a rejected payload the dead letter keeps, for a person to look at.
DEADLETTER_EXCERPT_BYTES = 512

REASONS = (
    "oversized",
    "bad_json",
    "schema_version",
    "missing_field",
    "wrong_type",
    "rssi_out_of_range",
    "unknown_beacon",
    "bad_event",
    "topic_mismatch",
    "invalid_id",
    "time_out_of_range",
)
#: Longest integer a payload may hold: int64 has 19 digits. Longer ones are refused while
#: parsing, before Python builds them (a 400-digit one overflows float(); past 4300 digits
#: int() itself refuses, with a ValueError).
MAX_INT_DIGITS = 20


class PayloadError(PresenceError):
    """A bus message cannot be used; ``reason`` is one of REASONS, ``detail`` says what and where."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode_json(obj: Mapping[str, Any]) -> bytes:
    """Compact strict JSON (no NaN or infinity), as every payload of ours is sent."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _no_constants(name: str) -> float:
    raise PayloadError("wrong_type", f"{name} is not a finite number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise PayloadError("wrong_type", f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def parse_object(payload: bytes) -> dict[str, Any]:
    """A payload's JSON object, bounded in size, depth and digits; PayloadError otherwise."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        # Strict UTF-8 (RFC 8259): json.loads would also take UTF-16 and, through
        # "surrogatepass", encoded lone surrogates, strings nothing can encode again.
        text = payload.decode("utf-8")
        # NaN and Infinity are not JSON; refusing them here lets the decoders check
        # ranges with min()/max() (a 1e999 still parses as inf: ranges catch it).
        obj = json.loads(text, parse_constant=_no_constants, parse_int=_bounded_int)
        if "\\u" in text:  # an escape may still spell a lone surrogate ("\ud800")
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, json.JSONDecodeError, RecursionError) as e:
        raise PayloadError("bad_json", str(e)) from None
    if not isinstance(obj, dict):
        raise PayloadError("wrong_type", f"payload must be a JSON object, got {type(obj).__name__}")
    return obj


def _field(obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in obj:
        raise PayloadError("missing_field", f"{name!r} is missing")
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise PayloadError("wrong_type", f"{name!r} has type {type(value).__name__}")
    return value


def _number(obj: Mapping[str, Any], name: str) -> float:
    value = float(_field(obj, name, (int, float)))
    if not math.isfinite(value):
        raise PayloadError("wrong_type", f"{name!r} is not finite")
    return value


def _check_id(value: str, name: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise PayloadError("invalid_id", f"{name} {value[:40]!r}: {problem}")
    return value


def _check_time(t_s: float, name: str) -> float:
    problem = time_problem(t_s)
    if problem is not None:
        raise PayloadError("time_out_of_range", f"{name}: {problem}")
    return t_s


def _check_schema(obj: Mapping[str, Any], key: str, expected: str) -> None:
    got = obj.get(key)
    if got != expected:
        raise PayloadError("schema_version", f"{key} {got!r}, this service reads {expected!r}")


# --- observations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanMessage:
    """One device's scan: at ``t_s`` (+ ``dt_s[beacon]`` if given) it heard ``rssi_dbm[beacon]``.

    The one shape of a scan in instore: what a scanner's window, a replay and an ESPresense
    relay send (``encode_scan``) and what the live engine receives (``decode_observations``).
    """

    device_id: str
    t_s: float
    rssi_dbm: Mapping[str, float]
    dt_s: Mapping[str, float] | None = None

    def times(self) -> list[float]:
        """Each reading's time, in the order of ``rssi_dbm``."""
        if self.dt_s is None:
            return [self.t_s] * len(self.rssi_dbm)
        return [self.t_s + self.dt_s[b] for b in self.rssi_dbm]

    def to_batch(self) -> ObservationBatch:
        beacons = list(self.rssi_dbm)
        return ObservationBatch.from_arrays(
            self.times(),
            np.full(len(beacons), self.device_id, dtype=object),
            np.array(beacons, dtype=object),
            [self.rssi_dbm[b] for b in beacons],
        )


def encode_observations(
    device_id: str,
    t_s: float,
    rssi_dbm: Mapping[str, float],
    dt_s: Mapping[str, float] | None = None,
) -> bytes:
    """One scan of one device: ``{"schema", "device", "t", "rssi": {beacon: dBm}}``, and
    ``"dt": {beacon: s}`` when readings were taken at different times within the scan
    (offsets from ``t``, 0 <= dt <= MAX_SCAN_SPAN_S)."""
    body: dict[str, Any] = {
        "schema": OBS_SCHEMA,
        "device": device_id,
        # Full float64 precision (JSON floats round-trip exactly), so a replay through
        # the bus gives the engine the very numbers a batch run reads from the file.
        "t": float(t_s),
        "rssi": {b: float(r) for b, r in rssi_dbm.items()},
    }
    if dt_s is not None and any(dt_s.values()):
        body["dt"] = {b: float(dt_s[b]) for b in rssi_dbm}
    return encode_json(body)


def encode_scan(scan: ScanMessage) -> bytes:
    """:func:`encode_observations` of a :class:`ScanMessage`."""
    return encode_observations(scan.device_id, scan.t_s, scan.rssi_dbm, scan.dt_s)


#: Exactly these are JSON numbers after json.loads (bool is a subclass of int: excluded).
_NUMBER_TYPES = frozenset((int, float))


def decode_observations(payload: bytes, beacon_ids: Collection[str] | None = None) -> ScanMessage:
    """Parse a scan; with ``beacon_ids`` every beacon must be one of them (else unknown_beacon)."""
    obj = parse_object(payload)
    _check_schema(obj, "schema", OBS_SCHEMA)
    device = _field(obj, "device", str)
    if not device:
        raise PayloadError("missing_field", "'device' is empty")
    _check_id(device, "device")
    t_s = _check_time(_number(obj, "t"), "t")
    readings = _field(obj, "rssi", dict)
    if not readings:
        raise PayloadError("missing_field", "'rssi' holds no readings")
    for beacon in readings:
        _check_id(beacon, "beacon")
    dt = obj.get("dt")
    if _plainly_valid(readings, beacon_ids) and (dt is None or _plain_offsets(dt, readings)):
        # The common case, checked in bulk: ~5x cheaper than reading by reading below.
        rssi = {b: float(v) for b, v in readings.items()}
        offsets = None if dt is None else {b: float(dt[b]) for b in rssi}
        return ScanMessage(device_id=device, t_s=t_s, rssi_dbm=rssi, dt_s=offsets)
    out: dict[str, float] = {}
    for beacon in readings:
        rssi_dbm = _number(readings, beacon)
        if not rssi_ok(rssi_dbm):
            raise PayloadError("rssi_out_of_range", f"rssi[{beacon!r}] = {rssi_dbm} dBm")
        if beacon_ids is not None and beacon not in beacon_ids:
            raise PayloadError("unknown_beacon", f"beacon {beacon!r} is not in the layout")
        out[beacon] = rssi_dbm
    return ScanMessage(device_id=device, t_s=t_s, rssi_dbm=out, dt_s=_offsets(obj, out))


def _plainly_valid(readings: Mapping[str, Any], beacon_ids: Collection[str] | None) -> bool:
    """True if every reading is a number in range from a known beacon (else the caller
    checks one by one, to name the fault)."""
    values = readings.values()
    return (
        {type(v) for v in values} <= _NUMBER_TYPES
        and rssi_ok(min(values))
        and rssi_ok(max(values))
        and (beacon_ids is None or all(b in beacon_ids for b in readings))
    )


def _plain_offsets(dt: Any, readings: Mapping[str, Any]) -> bool:
    if not isinstance(dt, dict) or dt.keys() != readings.keys():
        return False
    values = dt.values()
    return (
        {type(v) for v in values} <= _NUMBER_TYPES
        and min(values) >= 0.0
        and max(values) <= MAX_SCAN_SPAN_S
    )


def _offsets(obj: Mapping[str, Any], readings: Mapping[str, float]) -> dict[str, float] | None:
    if "dt" not in obj:
        return None
    dt = _field(obj, "dt", dict)
    if set(dt) != set(readings):
        raise PayloadError("missing_field", "'dt' must name exactly the beacons of 'rssi'")
    out = {b: _number(dt, b) for b in readings}
    if not all(0.0 <= v <= MAX_SCAN_SPAN_S for v in out.values()):
        raise PayloadError("wrong_type", f"'dt' offsets must lie in 0..{MAX_SCAN_SPAN_S} s")
    return out


# --- events -------------------------------------------------------------------------------


def encode_event(event: PresenceEvent) -> bytes:
    """The event's CloudEvent (ARCHITECTURE 3.3) with the bus schema in ``dataschema``."""
    return encode_json({**event.to_cloudevent(), "dataschema": EVENT_DATASCHEMA})


def decode_event(payload: bytes) -> PresenceEvent:
    obj = parse_object(payload)
    _check_schema(obj, "dataschema", EVENT_DATASCHEMA)
    try:
        event = PresenceEvent.from_cloudevent(obj)
    except PositioningError as e:
        raise PayloadError("bad_event", str(e)) from None
    _check_id(event.device_id, "subject")
    _check_id(event.store, "source's store")
    _check_time(event.time_s, "time")
    return event


# --- positions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PositionMessage:
    store: str
    device_id: str
    t_s: float
    x_m: float
    y_m: float
    zone: str  # "" outside every zone
    sigma_m: float


def encode_position(p: PositionMessage) -> bytes:
    return encode_json(
        {
            "schema": POSITION_SCHEMA,
            "store": p.store,
            "device": p.device_id,
            "t": round(p.t_s, 3),
            "x": round(p.x_m, 3),
            "y": round(p.y_m, 3),
            "zone": p.zone,
            "sigma": round(p.sigma_m, 3),
        }
    )


def decode_position(payload: bytes) -> PositionMessage:
    obj = parse_object(payload)
    _check_schema(obj, "schema", POSITION_SCHEMA)
    return PositionMessage(
        store=_check_id(_field(obj, "store", str), "store"),
        device_id=_check_id(_field(obj, "device", str), "device"),
        t_s=_check_time(_number(obj, "t"), "t"),
        x_m=_number(obj, "x"),
        y_m=_number(obj, "y"),
        zone=_field(obj, "zone", str),
        sigma_m=_number(obj, "sigma"),
    )


# --- dead letters and status --------------------------------------------------------------


def encode_deadletter(
    topic: str, payload: bytes, error: PayloadError, *, service: str, received_at_s: float
) -> bytes:
    """What a service could not use, why, and the first bytes of it (never the whole thing)."""
    return encode_json(
        {
            "schema": DEADLETTER_SCHEMA,
            "service": service,
            "topic": topic,
            "reason": error.reason,
            "detail": error.detail[:300],
            "received_at": round(received_at_s, 3),
            "payload_bytes": len(payload),
            "payload_excerpt": payload[:DEADLETTER_EXCERPT_BYTES].decode("utf-8", "replace"),
        }
    )


def decode_deadletter(payload: bytes) -> dict[str, Any]:
    obj = parse_object(payload)
    _check_schema(obj, "schema", DEADLETTER_SCHEMA)
    _field(obj, "reason", str)
    return obj


def encode_status(
    service: str,
    state: str,
    *,
    client_id: str,
    t_s: float | None = None,
    scanner: Mapping[str, Any] | None = None,
) -> bytes:
    """``state`` is "online" or "offline"; the offline form is the last will (no time: it is
    composed when connecting, published by the broker later). A Bluetooth scanner adds
    ``scanner``: its adapter's state (docs/mqtt.md)."""
    body: dict[str, Any] = {
        "schema": STATUS_SCHEMA,
        "service": service,
        "state": state,
        "client_id": client_id,
    }
    if t_s is not None:
        body["t"] = round(t_s, 3)
    if scanner is not None:
        body["scanner"] = dict(scanner)
    return encode_json(body)


def decode_status(payload: bytes) -> dict[str, Any]:
    obj = parse_object(payload)
    _check_schema(obj, "schema", STATUS_SCHEMA)
    _field(obj, "state", str)
    return obj


def encode_control(command: str, *, t_s: float, source: str) -> bytes:
    """A control message on ``Topics.control``; ``t_s`` is the last observation time sent."""
    return encode_json(
        {"schema": CONTROL_SCHEMA, "command": command, "t": float(t_s), "source": source}
    )


def decode_control(payload: bytes) -> tuple[str, float]:
    obj = parse_object(payload)
    _check_schema(obj, "schema", CONTROL_SCHEMA)
    command = _field(obj, "command", str)
    if command != END_OF_STREAM:
        raise PayloadError("wrong_type", f"unknown control command {command!r}")
    return command, _check_time(_number(obj, "t"), "t")
