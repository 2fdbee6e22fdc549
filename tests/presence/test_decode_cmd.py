"""``instore decode``: JSON for a payload, one-line reason and status 2 for a bad one."""

from __future__ import annotations

import json

import pytest

from presence.cli import main


def test_decode_prints_the_frame_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["decode", "02 01 06 1A FF 4C 00 02 15", "E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["frames"] == [
        {
            "format": "ibeacon",
            "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
            "major": 1,
            "minor": 2,
            "measured_power_dbm": -59,
        }
    ]
    assert out["length"] == 30 and out["flags"] == 6


def test_non_beacon_payload_has_no_frames(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--compact", "020106050961626364"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == [] and out["local_name"] == "abcd"


@pytest.mark.parametrize(
    ("hex_payload", "words"),
    [
        ("0201061AFF4C000216E2C56DB5DFFB48D2B060D0F5A71096E000000000C5", "length byte is 0x16"),
        ("0201061BFF4C00", "declares length 27"),
        ("02010G", "not a hex string"),
        ("", "empty payload"),
        ("0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000000000C5" * 1800, "longer than any"),
    ],
)
def test_malformed_payload_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], hex_payload: str, words: str
) -> None:
    assert main(["decode", hex_payload]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("instore decode: error:") and words in captured.err
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


def test_decode_names_the_layout_beacon(
    capsys: pytest.CaptureFixture[str], showroom_path: object
) -> None:
    payload = "0201061AFF4C000215F7826DA64FA24E988024BC5B71E0893E00020003C5"
    assert main(["decode", "--compact", "--store", str(showroom_path), payload]) == 0
    assert json.loads(capsys.readouterr().out)["frames"][0]["layout_beacon"] == "s3"


def test_a_vendor_frame_is_listed_as_skipped_beside_the_frame_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = "0201061016AAFE21010B0C1318000021FFFDFC12" + "1AFF4C000215" + "AB" * 16 + "00010002C5"
    assert main(["decode", "--compact", payload]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["format"] for f in out["frames"]] == ["ibeacon"]
    assert out["skipped"] == [
        {
            "where": "service 0xFEAA",
            "reason": "unsupported Eddystone frame type 0x21 (read: 0x00 UID, 0x10 URL, 0x20 TLM, 0x30 EID)",
            "malformed": False,
            "offset": 7,
        }
    ]
