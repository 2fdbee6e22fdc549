"""AltBeacon frames: manufacturer data beginning with the beacon code 0xBEAC.

Layout after the company identifier (AltBeacon Protocol Specification v1.0,
github.com/AltBeacon/spec):

    offset  size  field
    0       2     beacon code 0xBE 0xAC
    2       20    beacon id (big endian); by convention id1 = 16 bytes, id2 = 2, id3 = 2
    22      1     reference RSSI: average RSSI at 1 m, signed dBm (0 to -127)
    23      1     manufacturer reserved

Leniency: the reserved byte carries neither identity nor power, and the AltBeacon library's
parser reads a frame without it (its layout's data field is optional at the end), so 23 bytes
are read with ``reserved`` None. Fewer bytes lack the id or the reference RSSI: malformed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from beacons.errors import AdvertisementError

__all__ = [
    "AltBeacon",
    "BEACON_CODE",
    "BEACON_ID_BYTES",
    "encode_altbeacon",
    "FRAME_BYTES",
    "FRAME_BYTES_NO_RESERVED",
    "OFFSET_CODE",
    "OFFSET_ID",
    "OFFSET_REFERENCE_RSSI",
    "OFFSET_RESERVED",
    "parse_altbeacon",
    "RADIUS_NETWORKS_COMPANY_ID",
]

#: The AltBeacon advertisement code, transmitted big endian.
BEACON_CODE = b"\xbe\xac"
#: Radius Networks, the company id the spec's reference implementation uses (SIG assigned numbers).
RADIUS_NETWORKS_COMPANY_ID = 0x0118

OFFSET_CODE = 0
OFFSET_ID = 2
OFFSET_REFERENCE_RSSI = 22
OFFSET_RESERVED = 23
BEACON_ID_BYTES = 20
FRAME_BYTES = 24
#: A frame without the trailing manufacturer-reserved byte (read as the AltBeacon library does).
FRAME_BYTES_NO_RESERVED = 23


@dataclass(frozen=True, slots=True)
class AltBeacon:
    """An AltBeacon. ``beacon_id`` is 20 bytes; ``reference_rssi_dbm`` is the RSSI at 1 m."""

    company_id: int
    beacon_id: bytes
    reference_rssi_dbm: int
    reserved: int | None = 0  # None: the beacon did not send the byte

    kind: ClassVar[str] = "altbeacon"

    @property
    def id1(self) -> str:
        """The first 16 bytes as a UUID string (the common id1/id2/id3 split)."""
        return str(uuid.UUID(bytes=self.beacon_id[:16]))

    @property
    def id2(self) -> int:
        return int.from_bytes(self.beacon_id[16:18], "big")

    @property
    def id3(self) -> int:
        return int.from_bytes(self.beacon_id[18:20], "big")

    @property
    def rssi_at_1m_dbm(self) -> float:
        return float(self.reference_rssi_dbm)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.kind,
            "company_id": self.company_id,
            "beacon_id": self.beacon_id.hex(),
            "id1": self.id1,
            "id2": self.id2,
            "id3": self.id3,
            "reference_rssi_dbm": self.reference_rssi_dbm,
            "reserved": self.reserved,
        }


def parse_altbeacon(company_id: int, data: bytes) -> AltBeacon | None:
    """The AltBeacon in manufacturer data (after the company id), None if not one."""
    if data[OFFSET_CODE : OFFSET_CODE + 2] != BEACON_CODE:
        return None
    if len(data) not in (FRAME_BYTES_NO_RESERVED, FRAME_BYTES):
        raise AdvertisementError(
            f"AltBeacon frame has {len(data)} bytes after the company id, expected {FRAME_BYTES}"
            f" (or {FRAME_BYTES_NO_RESERVED} without the reserved byte)",
            data=data,
            offset=min(len(data), FRAME_BYTES),
        )
    return AltBeacon(
        company_id=company_id,
        beacon_id=bytes(data[OFFSET_ID : OFFSET_ID + BEACON_ID_BYTES]),
        reference_rssi_dbm=int.from_bytes(
            data[OFFSET_REFERENCE_RSSI : OFFSET_REFERENCE_RSSI + 1], "big", signed=True
        ),
        reserved=data[OFFSET_RESERVED] if len(data) == FRAME_BYTES else None,
    )


def encode_altbeacon(frame: AltBeacon) -> bytes:
    """Manufacturer data after the company id; inverse of :func:`parse_altbeacon`."""
    if len(frame.beacon_id) != BEACON_ID_BYTES:
        raise ValueError(
            f"AltBeacon id must be {BEACON_ID_BYTES} bytes, got {len(frame.beacon_id)}"
        )
    if not -128 <= frame.reference_rssi_dbm <= 127 or (
        frame.reserved is not None and not 0 <= frame.reserved <= 0xFF
    ):
        raise ValueError("reference RSSI must fit a signed byte and reserved an unsigned byte")
    reserved = b"" if frame.reserved is None else bytes([frame.reserved])
    return (
        BEACON_CODE
        + frame.beacon_id
        + frame.reference_rssi_dbm.to_bytes(1, "big", signed=True)
        + reserved
    )
