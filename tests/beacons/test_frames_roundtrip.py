"""Encoders and parsers are inverses, for every frame the formats can carry."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacons.adstructures import join_ad_structures, split_ad_structures
from beacons.altbeacon import AltBeacon
from beacons.eddystone import (
    URL_EXPANSIONS,
    URL_SCHEMES,
    EddystoneEid,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    encode_url,
)
from beacons.frames import decode_payload, encode_payload
from beacons.ibeacon import APPLE_COMPANY_ID, IBeacon

signed_byte = st.integers(-128, 127)
u16 = st.integers(0, 0xFFFF)

ibeacons = st.builds(
    IBeacon,
    uuid=st.uuids().map(str),
    major=u16,
    minor=u16,
    measured_power_dbm=signed_byte,
)
altbeacons = st.builds(
    AltBeacon,
    # Apple's manufacturer data is read as iBeacon or nothing (beacons.frames), never as AltBeacon
    company_id=u16.filter(lambda c: c != APPLE_COMPANY_ID),
    beacon_id=st.binary(min_size=20, max_size=20),
    reference_rssi_dbm=signed_byte,
    reserved=st.integers(0, 255),
)
uids = st.builds(
    EddystoneUid,
    namespace=st.binary(min_size=10, max_size=10).map(bytes.hex),
    instance=st.binary(min_size=6, max_size=6).map(bytes.hex),
    tx_power_0m_dbm=signed_byte,
)
tlms = st.builds(
    EddystoneTlm,
    battery_mv=st.none() | st.integers(1, 0xFFFF),
    # 8.8 fixed point; -128.0 (0x8000) is the "not supported" marker.
    temperature_c=st.none() | st.integers(-0x7FFF, 0x7FFF).map(lambda r: r / 256.0),
    adv_count=st.integers(0, 2**32 - 1),
    uptime_s=st.integers(0, 2**32 - 1).map(lambda t: t / 10.0),
)
eids = st.builds(
    EddystoneEid,
    eid=st.binary(min_size=8, max_size=8).map(bytes.hex),
    tx_power_0m_dbm=signed_byte,
)
url_chars = st.sampled_from([chr(c) for c in range(0x21, 0x7F)] + list(URL_EXPANSIONS))
urls = st.builds(
    lambda scheme, parts: scheme + "".join(parts),
    st.sampled_from(URL_SCHEMES),
    st.lists(url_chars, max_size=17),
).filter(lambda u: _fits(u))


def _fits(url: str) -> bool:
    try:
        encode_url(url)
    except ValueError:
        return False
    return True


eddystone_urls = st.builds(EddystoneUrl, url=urls, tx_power_0m_dbm=signed_byte)
frames = ibeacons | altbeacons | uids | tlms | eids | eddystone_urls


@settings(max_examples=400, deadline=None)
@given(frames)
def test_encode_then_decode_is_identity(frame: object) -> None:
    decoded = decode_payload(encode_payload(frame))  # type: ignore[arg-type]
    assert decoded.frames == (frame,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=6))
def test_ad_structures_join_then_split(structures: list[tuple[int, bytes]]) -> None:
    payload = join_ad_structures(structures)
    assert [(s.ad_type, s.data) for s in split_ad_structures(payload)] == structures


def test_url_encoder_uses_expansion_codes() -> None:
    # "https://www." is scheme 0x01; ".com/" is code 0x00: 1 + 6 + 1 bytes.
    assert encode_url("https://www.google.com/") == bytes([0x01]) + b"google" + bytes([0x00])


@pytest.mark.parametrize("url", ["ftp://x.org", "https://" + "a" * 18, "https://caf\u00e9.com"])
def test_url_encoder_rejects_what_cannot_be_sent(url: str) -> None:
    with pytest.raises(ValueError):
        encode_url(url)


def test_uuid_case_is_normalised() -> None:
    frame = IBeacon(str(uuid.UUID("E2C56DB5-DFFB-48D2-B060-D0F5A71096E0")), 1, 2, -59)
    assert (
        decode_payload(encode_payload(frame)).frames[0].uuid
        == "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
    )  # type: ignore[union-attr]
