"""The `instore scan --table` view's distance for beacons outside the layout."""

from __future__ import annotations

import pytest

from beacons.adstructures import parse_hex
from beacons.frames import decode_payload
from presence.services.beacon_table import advertised_power_dbm

IBEACON = "0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E00000000{}"


@pytest.mark.parametrize(
    ("power_byte", "expected"),
    [("0C5", -59.0), ("0BA", -70.0), ("01A", -59.0), ("064", -59.0), ("000", -59.0)],
)
def test_an_impossible_advertised_power_falls_back_to_a_typical_beacon(
    power_byte: str, expected: float
) -> None:
    # 0x1A = +26 dBm and 0x64 = +100 dBm are vendor data in the power byte (real vectors).
    (frame,) = decode_payload(parse_hex(IBEACON.format(power_byte))).frames
    assert advertised_power_dbm(frame) == expected


def test_a_frame_without_a_power_uses_a_typical_beacon() -> None:
    assert advertised_power_dbm(object()) == -59.0
