"""Which beacon formats an advertisement carries: one entry point over all parsers.

Works on raw payloads (``decode_payload``, for ``instore decode``) and on the
already-split dictionaries a scanner reports (``read_frames``), so the scanner and
the decode tool share every rule.

Each manufacturer-data and service-data entry is read on its own: one that is malformed
or of a type we do not read is reported as :class:`Skipped` and never costs the others
(a BlueCharm beacon's Eddystone vendor frame must not hide the iBeacon beside it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from beacons.adstructures import (
    AD_TYPE_MANUFACTURER_DATA,
    AD_TYPE_SERVICE_DATA_UUID16,
    AdvertisementFields,
    check_payload_size,
    fields_of,
    join_ad_structures,
    split_ad_structures,
)
from beacons.altbeacon import AltBeacon, encode_altbeacon, parse_altbeacon
from beacons.eddystone import (
    EDDYSTONE_UUID16,
    EddystoneEid,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    encode_eddystone,
    parse_eddystone,
)
from beacons.errors import AdvertisementError, UnsupportedFrameError
from beacons.ibeacon import APPLE_COMPANY_ID, IBeacon, encode_ibeacon, parse_ibeacon

__all__ = [
    "AD_TYPE_COMPLETE_UUID16",
    "AD_TYPE_FLAGS",
    "BASE_UUID_SUFFIX",
    "BeaconFrame",
    "decode_payload",
    "DecodedAdvertisement",
    "encode_payload",
    "FLAGS_LE_GENERAL_NO_BREDR",
    "FrameReading",
    "read_frames",
    "Skipped",
    "uuid16_of",
]

BeaconFrame = IBeacon | AltBeacon | EddystoneUid | EddystoneUrl | EddystoneTlm | EddystoneEid

#: Flags AD structure beacons send: LE General Discoverable, BR/EDR not supported
#: (Core Supplement Part A 1.3: bits 1 and 2).
FLAGS_LE_GENERAL_NO_BREDR = 0x06
AD_TYPE_FLAGS = 0x01
AD_TYPE_COMPLETE_UUID16 = 0x03

#: Bluetooth base UUID suffix: a 16-bit UUID 0xXXXX is 0000XXXX-0000-1000-8000-00805f9b34fb.
BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid16_of(service_uuid: str | int) -> int | None:
    """The 16-bit form of a service UUID given as an int or a 128-bit string, None if not one."""
    if isinstance(service_uuid, int):
        return service_uuid
    s = service_uuid.lower()
    if len(s) == 36 and s.startswith("0000") and s.endswith(BASE_UUID_SUFFIX):
        try:
            return int(s[4:8], 16)
        except ValueError:
            return None
    if len(s) == 4:
        try:
            return int(s, 16)
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A data entry that gave no frame: ``where`` names it, ``malformed`` tells a broken frame
    from one of a type we do not read; ``offset`` is within the entry's data (or the payload)."""

    where: str
    reason: str
    malformed: bool
    offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "reason": self.reason,
            "malformed": self.malformed,
            "offset": self.offset,
        }


@dataclass(frozen=True, slots=True)
class FrameReading:
    """What one advertisement's data entries gave: frames, and what could not be read."""

    frames: tuple[BeaconFrame, ...]
    skipped: tuple[Skipped, ...] = ()


def _read_manufacturer(company_id: int, data: bytes) -> BeaconFrame | None:
    frame: BeaconFrame | None = parse_ibeacon(company_id, data)
    if frame is None and company_id != APPLE_COMPANY_ID:
        frame = parse_altbeacon(company_id, data)
    return frame


def read_frames(
    manufacturer_data: Mapping[int, bytes], service_data: Mapping[Any, bytes]
) -> FrameReading:
    """Every beacon frame in the fields, each entry read on its own; never raises."""
    frames: list[BeaconFrame] = []
    skipped: list[Skipped] = []
    entries: list[tuple[str, Callable[[], BeaconFrame | None]]] = [
        (f"manufacturer 0x{cid:04X}", partial(_read_manufacturer, cid, data))
        for cid, data in manufacturer_data.items()
    ]
    for key, data in service_data.items():
        u16 = uuid16_of(key)
        if u16 is not None:
            entries.append((f"service 0x{u16:04X}", partial(parse_eddystone, u16, data)))
    for where, read in entries:
        try:
            frame = read()
        except AdvertisementError as e:
            unsupported = isinstance(e, UnsupportedFrameError)
            skipped.append(Skipped(where, e.reason, not unsupported, e.offset))
            continue
        if frame is not None:
            frames.append(frame)
    return FrameReading(tuple(frames), tuple(skipped))


@dataclass(frozen=True, slots=True)
class DecodedAdvertisement:
    fields: AdvertisementFields
    frames: tuple[BeaconFrame, ...]
    skipped: tuple[Skipped, ...] = ()

    def to_json(self) -> dict[str, Any]:
        f = self.fields
        return {
            "frames": [fr.to_json() for fr in self.frames],
            "skipped": [sk.to_json() for sk in self.skipped],
            "flags": f.flags,
            "local_name": f.local_name,
            "tx_power_level_dbm": f.tx_power_dbm,
            "manufacturer_data": {f"0x{k:04X}": v.hex() for k, v in f.manufacturer_data.items()},
            "service_data": {f"0x{k:04X}": v.hex() for k, v in f.service_data.items()},
            "service_uuids": [f"0x{u:04X}" for u in f.service_uuids],
        }


def decode_payload(payload: bytes) -> DecodedAdvertisement:
    """Split a raw advertising payload and parse every beacon frame in it.

    Raises AdvertisementError only when the payload itself is unusable (empty, longer than
    any advertisement, an AD structure overrunning the end); a bad or unknown frame is
    reported in ``skipped`` with its offset within the whole payload.
    """
    check_payload_size(payload)
    fields = fields_of(payload)
    frames: list[BeaconFrame] = []
    skipped: list[Skipped] = []
    for s in split_ad_structures(payload):
        key = int.from_bytes(s.data[:2], "little")
        if s.ad_type == AD_TYPE_MANUFACTURER_DATA:
            reading = read_frames({key: s.data[2:]}, {})
        elif s.ad_type == AD_TYPE_SERVICE_DATA_UUID16:
            reading = read_frames({}, {key: s.data[2:]})
        else:
            continue
        frames += reading.frames
        # length byte + type byte + 2-byte company id / service UUID precede the frame
        skipped += [replace(sk, offset=s.offset + 4 + (sk.offset or 0)) for sk in reading.skipped]
    return DecodedAdvertisement(fields, tuple(frames), tuple(skipped))


def encode_payload(frame: BeaconFrame, company_id: int | None = None) -> bytes:
    """A complete advertising payload (flags + the frame) as a beacon would broadcast it."""
    flags = (AD_TYPE_FLAGS, bytes([FLAGS_LE_GENERAL_NO_BREDR]))
    if isinstance(frame, IBeacon):
        data = APPLE_COMPANY_ID.to_bytes(2, "little") + encode_ibeacon(frame)
        return join_ad_structures([flags, (AD_TYPE_MANUFACTURER_DATA, data)])
    if isinstance(frame, AltBeacon):
        cid = frame.company_id if company_id is None else company_id
        data = cid.to_bytes(2, "little") + encode_altbeacon(frame)
        return join_ad_structures([flags, (AD_TYPE_MANUFACTURER_DATA, data)])
    uuid = EDDYSTONE_UUID16.to_bytes(2, "little")
    return join_ad_structures(
        [
            flags,
            (AD_TYPE_COMPLETE_UUID16, uuid),
            (AD_TYPE_SERVICE_DATA_UUID16, uuid + encode_eddystone(frame)),
        ]
    )
