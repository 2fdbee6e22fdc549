"""Payload schemas: golden bytes pin the wire format; decoders name the reason of a rejection."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.events import ZONE_EXIT, PresenceEvent
from presence.transport.payloads import (
    MAX_PAYLOAD_BYTES,
    PayloadError,
    PositionMessage,
    decode_deadletter,
    decode_event,
    decode_observations,
    decode_position,
    decode_status,
    encode_deadletter,
    encode_event,
    encode_observations,
    encode_position,
    encode_status,
)

T0 = 1_795_392_000.0  # 2026-11-23T00:00:00Z
EVENT = PresenceEvent(ZONE_EXIT, "fashion", "d001", T0 + 12.5, T0 + 15.0, 4.25, 7.5, "shoes", 12.5)


def test_obs_golden() -> None:
    assert encode_observations("d001", T0 + 0.25, {"b01": -61.5, "b07": -80.0}) == (
        b'{"schema":"instore.obs/1","device":"d001","t":1795392000.25,'
        b'"rssi":{"b01":-61.5,"b07":-80.0}}'
    )


def test_event_golden() -> None:
    assert encode_event(EVENT) == (
        b'{"specversion":"1.0","id":"' + EVENT.id.encode() + b'","source":"instore/fashion",'
        b'"type":"instore.zone.exit","time":"2026-11-23T00:00:12.500Z","subject":"d001",'
        b'"datacontenttype":"application/json","data":{"x":4.25,"y":7.5,"detected_at":1795392015.0,'
        b'"zone":"shoes","duration_s":12.5},"dataschema":"instore:presence-event/1"}'
    )


def test_position_status_golden() -> None:
    pos = PositionMessage("fashion", "d001", T0, 1.0, 2.0, "shoes", 0.8)
    assert encode_position(pos) == (
        b'{"schema":"instore.position/1","store":"fashion","device":"d001","t":1795392000.0,'
        b'"x":1.0,"y":2.0,"zone":"shoes","sigma":0.8}'
    )
    assert encode_status("run", "offline", client_id="c1") == (
        b'{"schema":"instore.status/1","service":"run","state":"offline","client_id":"c1"}'
    )


def test_scan_with_offsets_roundtrips_and_checks_them() -> None:
    payload = encode_observations("d1", T0, {"b01": -70.0, "b02": -75.0}, {"b01": 0.0, "b02": 0.4})
    scan = decode_observations(payload, {"b01", "b02"})
    assert scan.times() == [T0, T0 + 0.4]
    assert list(scan.to_batch().t_s) == [T0, T0 + 0.4]
    bad = json.loads(payload)
    bad["dt"] = {"b01": 0.0}
    with pytest.raises(PayloadError, match="missing_field"):
        decode_observations(json.dumps(bad).encode())
    bad["dt"] = {"b01": 0.0, "b02": -1.0}
    with pytest.raises(PayloadError, match="wrong_type"):
        decode_observations(json.dumps(bad).encode())


def test_roundtrips() -> None:
    scan = decode_observations(encode_observations("d1", T0, {"b01": -70.0}), {"b01"})
    assert (scan.device_id, scan.t_s, dict(scan.rssi_dbm)) == ("d1", T0, {"b01": -70.0})
    batch = scan.to_batch()
    assert list(batch.beacon_id) == ["b01"] and batch.t_s[0] == T0
    assert decode_event(encode_event(EVENT)) == EVENT
    pos = PositionMessage("s", "d", T0, 1.0, 2.0, "", 0.5)
    assert decode_position(encode_position(pos)) == pos
    assert decode_status(encode_status("run", "online", client_id="c", t_s=T0))["state"] == "online"


def _obs(**over: object) -> bytes:
    body: dict[str, object] = {
        "schema": "instore.obs/1",
        "device": "d1",
        "t": T0,
        "rssi": {"b01": -70},
    }
    body.update(over)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "wrong_type"),
        (_obs(schema="instore.obs/2"), "schema_version"),
        (_obs(schema=None), "schema_version"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "oversized"),
        (_obs(rssi={"zz": -70}), "unknown_beacon"),
        (_obs(t="yesterday"), "wrong_type"),
        (_obs(t=True), "wrong_type"),
        (_obs(rssi={"b01": "-70"}), "wrong_type"),
        (_obs(rssi={"b01": 5}), "rssi_out_of_range"),
        (_obs(rssi={}), "missing_field"),
        (_obs(device=""), "missing_field"),
        (b'{"schema":"instore.obs/1","t":1}', "missing_field"),
        (b'{"schema":"instore.obs/1","device":"d","t":NaN,"rssi":{"b01":-70}}', "wrong_type"),
        (b'{"schema":"instore.obs/1","device":"d","t":1,"rssi":{"b01":-Infinity}}', "wrong_type"),
        (
            b'{"schema":"instore.obs/1","device":"d","t":1,"rssi":{"b01":-1e999}}',
            "wrong_type",
        ),
        (_obs(rssi={"b01": True}), "wrong_type"),
        (_obs(rssi={"b01": None}), "wrong_type"),
        (_obs(rssi={"b01": -70, "zz": -60}), "unknown_beacon"),
        (_obs(rssi={"b01": -128}), "rssi_out_of_range"),
        (_obs(rssi={"b01": -70}, dt={"b01": 11.0}), "wrong_type"),
        (_obs(rssi={"b01": -70}, dt={"b01": False}), "wrong_type"),
        (_obs(rssi={"b01": -70}, dt={"b02": 0.5}), "missing_field"),
        (_obs(rssi={"b01": -70}, dt=[0.5]), "wrong_type"),
    ],
)
def test_bad_observations_name_the_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode_observations(payload, {"b01"})
    assert err.value.reason == reason


def test_bad_events_name_the_reason() -> None:
    good = json.loads(encode_event(EVENT))
    with pytest.raises(PayloadError, match="schema_version"):
        decode_event(json.dumps({**good, "dataschema": "instore:presence-event/9"}).encode())
    with pytest.raises(PayloadError) as err:
        decode_event(json.dumps({**good, "id": "forged"}).encode())
    assert err.value.reason == "bad_event" and "id" in err.value.detail


def test_deadletter_keeps_reason_and_an_excerpt_only() -> None:
    payload = b"x" * 5000
    err = PayloadError("bad_json", "Expecting value: line 1 column 1")
    dl = decode_deadletter(
        encode_deadletter("instore/v1/s/obs/d", payload, err, service="run", received_at_s=T0)
    )
    assert dl["reason"] == "bad_json" and dl["payload_bytes"] == 5000
    assert len(dl["payload_excerpt"]) == 512 and dl["topic"] == "instore/v1/s/obs/d"


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_decoders_raise_only_payload_errors(payload: bytes) -> None:
    for decode in (decode_observations, decode_event, decode_position):
        try:
            decode(payload)
        except PayloadError as e:
            assert e.reason in {
                "oversized",
                "bad_json",
                "schema_version",
                "missing_field",
                "wrong_type",
                "rssi_out_of_range",
                "unknown_beacon",
                "bad_event",
            }
