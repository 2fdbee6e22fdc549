"""Apple iBeacon frames: manufacturer data of company 0x004C with type 0x02.

Layout of the manufacturer data after the company identifier (Apple, "Getting Started
with iBeacon", v1.0 2014, and "Proximity Beacon Specification" R1):

    offset  size  field
    0       1     type, 0x02 (iBeacon)
    1       1     length of what follows, 0x15 (21)
    2       16    proximity UUID (big endian)
    18      2     major (big endian)
    20      2     minor (big endian)
    22      1     measured power: RSSI at 1 m, signed dBm

Leniency: the frame's own length byte (0x15) delimits it, so bytes after the 23 are vendor
extras, kept in ``trailing`` and never a reason to drop the beacon (Jaalee beacons append a
battery byte; the AltBeacon library's iBeacon layout reads bytes 2-24 and ignores the rest).
A frame shorter than 23 bytes lacks its identity or power and is malformed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from beacons.errors import AdvertisementError

__all__ = [
    "APPLE_COMPANY_ID",
    "encode_ibeacon",
    "FRAME_BYTES",
    "IBeacon",
    "IBEACON_LENGTH",
    "IBEACON_TYPE",
    "OFFSET_LENGTH",
    "OFFSET_MAJOR",
    "OFFSET_MINOR",
    "OFFSET_POWER",
    "OFFSET_TYPE",
    "OFFSET_UUID",
    "parse_ibeacon",
]

#: Apple Inc. company identifier (Bluetooth SIG assigned numbers, company identifiers).
APPLE_COMPANY_ID = 0x004C
IBEACON_TYPE = 0x02
IBEACON_LENGTH = 0x15

OFFSET_TYPE = 0
OFFSET_LENGTH = 1
OFFSET_UUID = 2
OFFSET_MAJOR = 18
OFFSET_MINOR = 20
OFFSET_POWER = 22
#: Total bytes after the company id: type + length + 21.
FRAME_BYTES = 2 + IBEACON_LENGTH


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An iBeacon advertisement. ``measured_power_dbm`` is the RSSI expected at 1 m."""

    uuid: str  # lower-case canonical 8-4-4-4-12 form
    major: int
    minor: int
    measured_power_dbm: int
    trailing: bytes = b""  # vendor bytes after the frame (a battery level, say), kept as sent

    kind: ClassVar[str] = "ibeacon"

    @property
    def rssi_at_1m_dbm(self) -> float:
        return float(self.measured_power_dbm)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.kind,
            "uuid": self.uuid,
            "major": self.major,
            "minor": self.minor,
            "measured_power_dbm": self.measured_power_dbm,
        }
        if self.trailing:
            out["trailing_bytes"] = self.trailing.hex().upper()
        return out


def parse_ibeacon(company_id: int, data: bytes) -> IBeacon | None:
    """The iBeacon in Apple manufacturer data, None for anything else.

    ``data`` is the manufacturer data after the company id (as bleak gives it).
    """
    if company_id != APPLE_COMPANY_ID or len(data) < 1 or data[OFFSET_TYPE] != IBEACON_TYPE:
        return None
    if len(data) < 2:
        raise AdvertisementError("iBeacon frame has no length byte", data=data, offset=1)
    if data[OFFSET_LENGTH] != IBEACON_LENGTH:
        raise AdvertisementError(
            f"iBeacon length byte is 0x{data[OFFSET_LENGTH]:02X}, expected 0x{IBEACON_LENGTH:02X}",
            data=data,
            offset=OFFSET_LENGTH,
        )
    if len(data) < FRAME_BYTES:
        raise AdvertisementError(
            f"iBeacon frame has {len(data)} bytes after the company id, expected at least {FRAME_BYTES}",
            data=data,
            offset=min(len(data), FRAME_BYTES),
        )
    return IBeacon(
        uuid=str(uuid.UUID(bytes=bytes(data[OFFSET_UUID:OFFSET_MAJOR]))),
        major=int.from_bytes(data[OFFSET_MAJOR:OFFSET_MINOR], "big"),
        minor=int.from_bytes(data[OFFSET_MINOR:OFFSET_POWER], "big"),
        measured_power_dbm=int.from_bytes(
            data[OFFSET_POWER : OFFSET_POWER + 1], "big", signed=True
        ),
        trailing=bytes(data[FRAME_BYTES:]),
    )


def encode_ibeacon(frame: IBeacon) -> bytes:
    """Manufacturer data (after the company id) for an iBeacon; inverse of :func:`parse_ibeacon`."""
    if not (0 <= frame.major <= 0xFFFF and 0 <= frame.minor <= 0xFFFF):
        raise ValueError(f"major and minor must be 0..65535, got {frame.major}, {frame.minor}")
    if not -128 <= frame.measured_power_dbm <= 127:
        raise ValueError(f"measured power must fit a signed byte, got {frame.measured_power_dbm}")
    return (
        bytes([IBEACON_TYPE, IBEACON_LENGTH])
        + uuid.UUID(frame.uuid).bytes
        + frame.major.to_bytes(2, "big")
        + frame.minor.to_bytes(2, "big")
        + frame.measured_power_dbm.to_bytes(1, "big", signed=True)
        + frame.trailing
    )
