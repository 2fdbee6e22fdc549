"""Published example frames decode to the values their specifications state."""

from __future__ import annotations

import pytest

from beacons.adstructures import parse_hex, split_ad_structures
from beacons.altbeacon import AltBeacon
from beacons.eddystone import EddystoneTlm, EddystoneUid, EddystoneUrl, parse_eddystone
from beacons.errors import AdvertisementError
from beacons.frames import decode_payload
from beacons.ibeacon import IBeacon


def only_frame(hex_payload: str) -> object:
    decoded = decode_payload(parse_hex(hex_payload))
    assert len(decoded.frames) == 1
    return decoded.frames[0]


def test_ibeacon_airlocate_example() -> None:
    # Apple's AirLocate sample UUID, major 0, minor 0, measured power 0xC5 = -59 dBm.
    frame = only_frame("0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000C5")
    assert frame == IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 0, 0, -59)


def test_ibeacon_dual_mode_flags_example() -> None:
    # Flags 0x1A (dual mode), major 0x0010, minor 0x0020, measured power 0xC6 = -58 dBm.
    frame = only_frame(
        "02 01 1A 1A FF 4C 00 02 15 83 25 6B 74 78 D0 43 A4 82 69 05 F9 DC 8A 44 BA 00 10 00 20 C6"
    )
    assert frame == IBeacon("83256b74-78d0-43a4-8269-05f9dc8a44ba", 16, 32, -58)


def test_eddystone_url_with_padding() -> None:
    # 31-byte legacy payload padded with zeros; scheme 0x03 = "https://", tx 0 dBm.
    frame = only_frame(
        "02 01 06 03 03 aa fe 0e 16 aa fe 10 00 03 6d 79 70 2e 6d 65 3f 41 00 00 00 00 00 00 00 00 00"
    )
    assert frame == EddystoneUrl("https://myp.me?A", 0)


def test_eddystone_url_expansion_and_tx_power_sign() -> None:
    # eddystone-url: 0xEE is -18 dBm; code 0x00 expands to ".com/", scheme 0x01 "https://www.".
    frame = only_frame("0201060303AAFE0D16AAFE10EE01676F6F676C6500")
    assert frame == EddystoneUrl("https://www.google.com/", -18)
    assert frame.rssi_at_1m_dbm == pytest.approx(-59.0)


def test_eddystone_uid_elided_uuid_namespace() -> None:
    # eddystone-uid "Elided Version 4 UUID" example namespace, RFU bytes present (length 0x17).
    frame = only_frame("0201060303AAFE1716AAFE00E78B0CA750095477CB3E77000000000001" + "0000")
    assert frame == EddystoneUid("8b0ca750095477cb3e77", "000000000001", -25)


def test_eddystone_uid_without_rfu_is_accepted() -> None:
    # Field notes: older implementations truncate the RFU bytes (length 0x15).
    frame = parse_eddystone(0xFEAA, parse_hex("00E78B0CA750095477CB3E77000000000001"))
    assert isinstance(frame, EddystoneUid)


def test_eddystone_tlm_units_and_unsupported_markers() -> None:
    # 3000 mV, 25.5 C (0x1980 in 8.8 fixed point), 1000 PDUs, 360.0 s (3600 ticks of 0.1 s).
    tlm = parse_eddystone(0xFEAA, parse_hex("2000 0BB8 1980 000003E8 00000E10"))
    assert tlm == EddystoneTlm(3000, 25.5, 1000, 360.0)
    unsupported = parse_eddystone(0xFEAA, parse_hex("2000 0000 8000 00000000 00000000"))
    assert unsupported == EddystoneTlm(None, None, 0, 0.0)


def test_altbeacon_radius_networks_example() -> None:
    beacon_id = "2F234454CF6D4A0FADF2F4911BA9FFA6" + "0001" + "0002"
    frame = only_frame(f"1BFF1801BEAC{beacon_id}C500")
    assert isinstance(frame, AltBeacon)
    assert (frame.id1, frame.id2, frame.id3) == ("2f234454-cf6d-4a0f-adf2-f4911ba9ffa6", 1, 2)
    assert frame.reference_rssi_dbm == -59 and frame.company_id == 0x0118


def test_non_beacon_frames_give_no_frame() -> None:
    # Apple "Nearby" (type 0x10) manufacturer data, a heart-rate service UUID and a name.
    decoded = decode_payload(
        parse_hex("02011A0AFF4C001005031C0D7A4E0303 0D18 0509 6162 6364".replace(" ", ""))
    )
    assert decoded.frames == ()
    assert decoded.fields.local_name == "abcd"


def ad(ad_type: int, hex_data: str) -> str:
    """One AD structure as hex, with its length byte computed."""
    data = parse_hex(hex_data)
    return bytes([len(data) + 1, ad_type]).hex() + data.hex()


EDDY = "0303AAFE"  # complete list of 16-bit UUIDs: 0xFEAA; the service data then starts at 4


@pytest.mark.parametrize(
    ("hex_payload", "offset", "words"),
    [
        # iBeacon length byte 0x16 instead of 0x15: offset of that byte in the payload.
        ("0201061AFF4C000216E2C56DB5DFFB48D2B060D0F5A71096E000000000C5", 8, "length byte"),
        # iBeacon one byte short (measured power missing).
        ("02010619FF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000", 29, "at least 23"),
        # Eddystone-URL with an undefined scheme 0x07 (frame byte 2 -> payload 4 + 4 + 2).
        (EDDY + ad(0x16, "AAFE 10 EE 07 616263"), 10, "scheme prefix 0x07"),
        # Eddystone-URL with a reserved byte 0x7F (frame byte 4).
        (EDDY + ad(0x16, "AAFE 10 EE 03 61 7F 63"), 12, "reserved"),
        # Eddystone-UID of 11 bytes: the fault is where byte 12 should follow (payload 8 + 11).
        (EDDY + ad(0x16, "AAFE 00 E7 8B0CA750095477CB3E"), 19, "has 11 bytes"),
        # AltBeacon code with a truncated id (8 bytes after the company id).
        (ad(0xFF, "1801 BEAC 010203040506"), 12, "expected 24"),
    ],
)
def test_malformed_frames_are_skipped_naming_the_offset(
    hex_payload: str, offset: int, words: str
) -> None:
    decoded = decode_payload(parse_hex(hex_payload))
    assert decoded.frames == ()
    (skipped,) = decoded.skipped
    assert skipped.malformed and skipped.offset == offset and words in skipped.reason


@pytest.mark.parametrize(
    ("hex_payload", "offset", "words"),
    [
        # AD structure claims more bytes than there are.
        ("0201061BFF4C00", 3, "declares length 27"),
        # Service data too short for its 16-bit UUID.
        (ad(0x16, "AA"), 0, "2-byte service UUID"),
        ("", None, "empty payload"),
        # 54,000 bytes of repeated structures: no radio broadcasts that (at most 1650).
        ("0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000C5" * 1800, 1650, "longer"),
    ],
)
def test_unusable_payloads_raise_naming_the_offset(
    hex_payload: str, offset: int | None, words: str
) -> None:
    with pytest.raises(AdvertisementError) as info:
        decode_payload(parse_hex(hex_payload))
    assert info.value.offset == offset
    assert words in str(info.value)


def test_unknown_eddystone_frame_type_is_unsupported_not_malformed() -> None:
    decoded = decode_payload(parse_hex(EDDY + ad(0x16, "AAFE 50 00")))
    (skipped,) = decoded.skipped
    assert not skipped.malformed and "frame type 0x50" in skipped.reason and skipped.offset == 8


# Real advertisements from public projects' test suites (facts about hardware, not code).
BLUECHARM_VENDOR_FRAME = "0201061016AAFE21010B0C1318000021FFFDFC12"
JAALEE_IBEACON = "020106030325F51BFF4C000215EBEFD08370A247C89837E7B5634DF52567F857BECB64"
ALTBEACON_NO_RESERVED = "1AFF1801BEAC2F234454CF6D4A0FADF2F4911BA9FFA600010002C5"


@pytest.mark.parametrize("vendor_type", ["21", "40"])
def test_an_eddystone_vendor_frame_never_hides_the_ibeacon_beside_it(vendor_type: str) -> None:
    vendor = BLUECHARM_VENDOR_FRAME.replace("AAFE21", "AAFE" + vendor_type)
    ibeacon = "1AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000010002C5"
    decoded = decode_payload(parse_hex(vendor + ibeacon))
    assert [f.to_json()["major"] for f in decoded.frames] == [1]  # type: ignore[union-attr]
    (skipped,) = decoded.skipped
    assert skipped.where == "service 0xFEAA" and not skipped.malformed
    assert f"0x{vendor_type}" in skipped.reason and skipped.offset == 7


def test_jaalee_ibeacon_with_a_battery_byte_is_read() -> None:
    (frame,) = decode_payload(parse_hex(JAALEE_IBEACON)).frames
    assert frame.to_json() == {
        "format": "ibeacon",
        "uuid": "ebefd083-70a2-47c8-9837-e7b5634df525",
        "major": 26616,
        "minor": 22462,
        "measured_power_dbm": -53,
        "trailing_bytes": "64",
    }


def test_altbeacon_without_the_reserved_byte_reads_as_the_altbeacon_library_does() -> None:
    (frame,) = decode_payload(parse_hex(ALTBEACON_NO_RESERVED)).frames
    out = frame.to_json()
    assert (out["id1"], out["id2"], out["id3"]) == ("2f234454-cf6d-4a0f-adf2-f4911ba9ffa6", 1, 2)
    assert out["reference_rssi_dbm"] == -59 and out["reserved"] is None


def test_zero_length_ends_significant_part() -> None:
    assert len(split_ad_structures(parse_hex("020106 00 FFFFFF"))) == 1


def test_bad_hex_is_an_advertisement_error() -> None:
    with pytest.raises(AdvertisementError, match="not a hex string"):
        parse_hex("02010G")
