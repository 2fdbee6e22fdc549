"""Which beacon formats an advertisement carries: one entry point over all parsers.

Works on raw payloads (``decode_payload``, for ``instore decode``) and on the
already-split dictionaries a scanner reports (``frames_from_fields``), so the
scanner and the decode tool share every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from beacons.adstructures import (
    AD_TYPE_MANUFACTURER_DATA,
    AD_TYPE_SERVICE_DATA_UUID16,
    AdvertisementFields,
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
from beacons.errors import AdvertisementError
from beacons.ibeacon import APPLE_COMPANY_ID, IBeacon, encode_ibeacon, parse_ibeacon

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


def frames_from_fields(
    manufacturer_data: Mapping[int, bytes], service_data: Mapping[Any, bytes]
) -> list[BeaconFrame]:
    """Every beacon frame in the fields; raises AdvertisementError if one is malformed."""
    frames: list[BeaconFrame] = []
    for company_id, data in manufacturer_data.items():
        frame: BeaconFrame | None = parse_ibeacon(company_id, data)
        if frame is None and company_id != APPLE_COMPANY_ID:
            frame = parse_altbeacon(company_id, data)
        if frame is not None:
            frames.append(frame)
    for key, data in service_data.items():
        u16 = uuid16_of(key)
        if u16 is None:
            continue
        ed = parse_eddystone(u16, data)
        if ed is not None:
            frames.append(ed)
    return frames


@dataclass(frozen=True, slots=True)
class DecodedAdvertisement:
    fields: AdvertisementFields
    frames: tuple[BeaconFrame, ...]

    def to_json(self) -> dict[str, Any]:
        f = self.fields
        return {
            "frames": [fr.to_json() for fr in self.frames],
            "flags": f.flags,
            "local_name": f.local_name,
            "tx_power_level_dbm": f.tx_power_dbm,
            "manufacturer_data": {f"0x{k:04X}": v.hex() for k, v in f.manufacturer_data.items()},
            "service_data": {f"0x{k:04X}": v.hex() for k, v in f.service_data.items()},
            "service_uuids": [f"0x{u:04X}" for u in f.service_uuids],
        }


def decode_payload(payload: bytes) -> DecodedAdvertisement:
    """Split a raw advertising payload and parse every beacon frame in it.

    Errors name the offset within the whole payload.
    """
    fields = fields_of(payload)
    frames: list[BeaconFrame] = []
    for s in split_ad_structures(payload):
        key = int.from_bytes(s.data[:2], "little")
        try:
            if s.ad_type == AD_TYPE_MANUFACTURER_DATA:
                frames += frames_from_fields({key: s.data[2:]}, {})
            elif s.ad_type == AD_TYPE_SERVICE_DATA_UUID16:
                frames += frames_from_fields({}, {key: s.data[2:]})
        except AdvertisementError as e:
            # length byte + type byte + 2-byte company id / service UUID precede the frame
            offset = s.offset + 4 + (e.offset or 0)
            raise AdvertisementError(e.reason, data=payload, offset=offset) from e
    return DecodedAdvertisement(fields, tuple(frames))


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
