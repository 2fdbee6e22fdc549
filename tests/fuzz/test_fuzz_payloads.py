"""Fuzz campaign over every MQTT payload type (issue 18, build 7): each decoder returns a
value that keeps the rules, or raises PayloadError with one of its reasons; no other
exception, whatever arrives (400- and 5,000-digit integers, NaN, huge floats, NUL in ids,
bytes that are not UTF-8, deep nesting)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hostile import campaign, hostile_scalar
from hypothesis import given
from hypothesis import strategies as st

from beacons.observation import RSSI_MAX_DBM, RSSI_MIN_DBM
from beacons.validity import id_problem, time_problem
from positioning.events import ZONE_EXIT, PresenceEvent
from presence.services import espresense
from presence.transport import payloads as p

T0 = 1_795_392_000.0
EVENT = PresenceEvent(ZONE_EXIT, "fashion", "d001", T0 + 12.5, T0 + 15.0, 4.25, 7.5, "shoes", 12.5)
BEACONS = ("b01", "b07")

#: A good payload of each type, as the objects its encoder writes.
GOOD: dict[str, dict[str, Any]] = {
    "obs": json.loads(
        p.encode_observations("d001", T0, {"b01": -61.5, "b07": -80.0}, {"b01": 0.0, "b07": 0.5})
    ),
    "event": json.loads(p.encode_event(EVENT)),
    "position": json.loads(
        p.encode_position(p.PositionMessage("fashion", "d001", T0, 1.0, 2.0, "shoes", 0.8))
    ),
    "status": json.loads(p.encode_status("engine", "online", client_id="c1", t_s=T0)),
    "deadletter": json.loads(
        p.encode_deadletter(
            "t/x", b"{}", p.PayloadError("bad_json", "x"), service="engine", received_at_s=T0
        )
    ),
    "control": json.loads(p.encode_control(p.END_OF_STREAM, t_s=T0, source="replay")),
    "espresense": {"id": "iBeacon:e2c5-1-2", "rssi": -70, "rssi@1m": -59, "distance": 2.5},
}


def _ids_ok(*ids: str) -> bool:
    return all(id_problem(i) is None for i in ids)


def _finite(*values: float) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


def check_scan(m: p.ScanMessage, beacon_ids: tuple[str, ...] | None) -> None:
    assert _ids_ok(m.device_id, *m.rssi_dbm) and _finite(m.t_s) and time_problem(m.t_s) is None
    assert all(RSSI_MIN_DBM <= v < RSSI_MAX_DBM for v in m.rssi_dbm.values())
    assert beacon_ids is None or set(m.rssi_dbm) <= set(beacon_ids)
    if m.dt_s is not None:
        assert set(m.dt_s) == set(m.rssi_dbm)
        assert all(0.0 <= v <= p.MAX_SCAN_SPAN_S for v in m.dt_s.values())
    assert len(m.to_batch()) == len(m.rssi_dbm)


def check_event(e: PresenceEvent) -> None:
    assert _ids_ok(e.device_id, e.store) and _finite(e.time_s, e.detected_at_s, e.x_m, e.y_m)
    assert p.decode_event(p.encode_event(e)) == e  # what was accepted can be sent on


def check_position(m: p.PositionMessage) -> None:
    assert _ids_ok(m.device_id, m.store) and _finite(m.t_s, m.x_m, m.y_m, m.sigma_m)
    assert time_problem(m.t_s) is None


def check_control(c: tuple[str, float]) -> None:
    assert c[0] == p.END_OF_STREAM and _finite(c[1]) and time_problem(c[1]) is None


def check_espresense(r: espresense.EspresenseReport) -> None:
    assert r.device_id and r.room and RSSI_MIN_DBM <= r.rssi_dbm < RSSI_MAX_DBM
    for v in (r.rssi_at_1m_dbm, r.distance_m):
        assert v is None or _finite(v)


DECODERS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], None]]] = {
    "obs": (p.decode_observations, lambda m: check_scan(m, None)),
    "obs_known": (lambda b: p.decode_observations(b, BEACONS), lambda m: check_scan(m, BEACONS)),
    "event": (p.decode_event, check_event),
    "position": (p.decode_position, check_position),
    "status": (p.decode_status, lambda d: isinstance(d, dict)),
    "deadletter": (p.decode_deadletter, lambda d: isinstance(d, dict)),
    "control": (p.decode_control, check_control),
    "espresense": (
        lambda b: espresense.parse_report("espresense/devices/iBeacon:e2c5-1-2/b01", b),
        check_espresense,
    ),
}


def decodes_or_explains(payload: bytes) -> None:
    """The property, for every decoder at once."""
    for name, (decode, check) in DECODERS.items():
        try:
            value = decode(payload)
        except p.PayloadError as e:
            assert e.reason in p.REASONS and e.detail, (name, e)
            continue
        check(value)


#: Integers JSON may carry that Python will not print (its 4300-digit limit): written into
#: the text after json.dumps, in place of these markers.
BIG = {"__BIG400__": "1" + "0" * 400, "__BIG5000__": "-" + "9" * 5000, "__EXP__": "1e99999"}
NASTY = st.sampled_from(
    [
        *BIG,
        math.nan,
        math.inf,
        1e300,
        -1e300,
        0,
        -1,
        2**64,
        True,
        None,
        "",
        "d\x00x",
        "a/b",
        "x" * 200,
        "\ud800",
        [],
        {},
        [[]],
        {"a": {}},
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ]
).map(copy.deepcopy)
VALUE = st.one_of(
    NASTY,
    st.recursive(
        st.one_of(NASTY, hostile_scalar()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    ),
)


def dumps(obj: Any) -> bytes:
    text = json.dumps(obj, allow_nan=True, ensure_ascii=False)
    for marker, digits in BIG.items():
        text = text.replace(f'"{marker}"', digits)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes that are not UTF-8


def _paths(v: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here] if here else []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _paths(x, (*here, k))
    return out


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    obj = copy.deepcopy(GOOD[draw(st.sampled_from(sorted(GOOD)))])
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(_paths(obj)))
        parent = obj
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.integers(0, 4)) == 0:
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(VALUE)
    return dumps(obj)


def test_good_payloads_decode() -> None:
    for name, (decode, check) in DECODERS.items():
        check(decode(dumps(GOOD[name.removesuffix("_known")])))


@campaign(500)
@given(payload=mutated_payloads())
def test_mutated_payloads_decode_or_explain(payload: bytes) -> None:
    decodes_or_explains(payload)


@campaign(200)
@given(
    payload=st.one_of(
        st.binary(max_size=64),
        st.builds(dumps, VALUE),
        st.sampled_from(
            [
                b"[" * 100_000,
                b'{"a":' * 50_000,
                b"\xff\xfe{}",
                b"\xef\xbb\xbf{}",
                b"1" * 5000,
                b'{"schema":"instore.obs/1","t":' + b"1" * 5000 + b"}",
                b"x" * (p.MAX_PAYLOAD_BYTES + 1),
            ]
        ),
    )
)
def test_any_bytes_decode_or_explain(payload: bytes) -> None:
    decodes_or_explains(payload)


def test_every_field_against_every_nasty_value() -> None:
    """The sweep: each field of each good payload, each nasty value."""
    nasties = [
        *BIG,
        math.nan,
        math.inf,
        1e300,
        2**64,
        10**400,
        True,
        None,
        "",
        "d\x00x",
        "a/b",
        "x" * 200,
        [],
        {},
        "2100-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
    ]
    for obj in GOOD.values():
        for where in _paths(obj):
            for nasty in nasties:
                doc = copy.deepcopy(obj)
                parent = doc
                for step in where[:-1]:
                    parent = parent[step]
                parent[where[-1]] = nasty
                decodes_or_explains(dumps(doc))


def test_found_by_the_campaign() -> None:
    """Pinned (issue 18, findings 1-3): each was accepted, or raised OverflowError or
    ValueError past the dead-letter path, which cost the good messages around it."""
    obs = GOOD["obs"]
    unnamed_event = {k: v for k, v in GOOD["event"].items() if k != "id"}  # id follows content
    cases = [
        (p.decode_observations, {**obs, "t": "__BIG400__"}, "wrong_type"),
        (p.decode_observations, {**obs, "rssi": {"b01": "__BIG5000__"}}, "wrong_type"),
        (p.decode_observations, {**obs, "device": "d\x00x"}, "invalid_id"),
        (p.decode_observations, {**obs, "rssi": {"b/1": -60}}, "invalid_id"),
        (p.decode_observations, {**obs, "t": 1e300}, "time_out_of_range"),
        (p.decode_observations, {**obs, "t": 0}, "time_out_of_range"),
        (p.decode_event, {**unnamed_event, "subject": "d\x00x"}, "invalid_id"),
        (p.decode_event, {**GOOD["event"], "data": {"x": "__BIG400__"}}, "wrong_type"),
        (p.decode_position, {**GOOD["position"], "device": "x" * 200}, "invalid_id"),
        (p.decode_control, {**GOOD["control"], "t": 1e300}, "time_out_of_range"),
    ]
    for decode, obj, reason in cases:
        with pytest.raises(p.PayloadError) as found:
            decode(dumps(obj))
        assert found.value.reason == reason, (obj, found.value)
    for lone_surrogate in (b'"\\ud800"', b'"\xed\xa0\x80"'):  # escaped, and encoded
        event = dumps(unnamed_event).replace(b'"d001"', lone_surrogate)
        with pytest.raises(p.PayloadError, match="bad_json"):  # was UnicodeEncodeError
            p.decode_event(event)
    with pytest.raises(p.PayloadError, match="wrong_type"):
        espresense.parse_report("espresense/devices/d/b01", dumps({"rssi": "__BIG400__"}))
