"""Splitting a raw advertising payload into AD structures, and joining them back.

An advertising payload is a sequence of AD structures, each ``[length][type][data...]``
where ``length`` counts the type byte and the data (Bluetooth Core 5.x, Vol 3 Part C,
section 11). A length of 0 ends the significant part; the rest is padding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from beacons.errors import AdvertisementError

__all__ = [
    "AD_TYPE_COMPLETE_NAME",
    "AD_TYPE_COMPLETE_UUID16",
    "AD_TYPE_FLAGS",
    "AD_TYPE_INCOMPLETE_UUID16",
    "AD_TYPE_MANUFACTURER_DATA",
    "AD_TYPE_SERVICE_DATA_UUID16",
    "AD_TYPE_SHORT_NAME",
    "AD_TYPE_TX_POWER_LEVEL",
    "AdStructure",
    "AdvertisementFields",
    "check_payload_size",
    "COMPANY_ID_BYTES",
    "fields_of",
    "join_ad_structures",
    "LEGACY_PAYLOAD_BYTES",
    "MAX_AD_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "parse_hex",
    "split_ad_structures",
    "UUID16_BYTES",
]

# AD type codes: Bluetooth SIG Assigned Numbers, section 2.3 "Common Data Types".
AD_TYPE_FLAGS = 0x01
AD_TYPE_INCOMPLETE_UUID16 = 0x02
AD_TYPE_COMPLETE_UUID16 = 0x03
AD_TYPE_SHORT_NAME = 0x08
AD_TYPE_COMPLETE_NAME = 0x09
AD_TYPE_TX_POWER_LEVEL = 0x0A
AD_TYPE_SERVICE_DATA_UUID16 = 0x16
AD_TYPE_MANUFACTURER_DATA = 0xFF

#: Largest AD structure length byte (one octet).
MAX_AD_LENGTH = 0xFF
#: Advertising data a legacy advertisement holds (Core 5.x Vol 6 Part B 2.3.1).
LEGACY_PAYLOAD_BYTES = 31
#: The most advertising data one advertising set can hold: extended advertising chains
#: AUX_CHAIN_IND PDUs of up to 254 bytes each, to at most 1650 bytes in all (Core 5.x Vol 4
#: Part E 7.8.57, Max_Extended_Advertising_Data_Length). Longer input is not an advertisement.
MAX_PAYLOAD_BYTES = 1650

#: Bytes of a company identifier at the head of manufacturer data (little endian).
COMPANY_ID_BYTES = 2
#: Bytes of a 16-bit service UUID at the head of service data (little endian).
UUID16_BYTES = 2


@dataclass(frozen=True, slots=True)
class AdStructure:
    """One AD structure: ``offset`` is where its length byte sits in the payload."""

    ad_type: int
    data: bytes
    offset: int = 0


@dataclass(frozen=True, slots=True)
class AdvertisementFields:
    """The AD structures a beacon parser needs, keyed the way bleak keys them.

    ``manufacturer_data`` maps a company identifier to the bytes after it;
    ``service_data`` maps a 16-bit service UUID to the bytes after it;
    ``tx_power_dbm`` is the advertised TX Power Level (dBm) if present.
    """

    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[int, bytes] = field(default_factory=dict)
    service_uuids: tuple[int, ...] = ()
    local_name: str | None = None
    tx_power_dbm: int | None = None
    flags: int | None = None


def split_ad_structures(payload: bytes) -> tuple[AdStructure, ...]:
    """The AD structures of a payload, in order. Raises AdvertisementError on overrun."""
    out: list[AdStructure] = []
    i = 0
    while i < len(payload):
        length = payload[i]
        if length == 0:
            break  # zero length: the rest is non-significant padding
        end = i + 1 + length
        if end > len(payload):
            raise AdvertisementError(
                f"AD structure declares length {length} but only {len(payload) - i - 1} bytes follow",
                data=payload,
                offset=i,
            )
        out.append(AdStructure(payload[i + 1], bytes(payload[i + 2 : end]), i))
        i = end
    return tuple(out)


def check_payload_size(payload: bytes) -> None:
    """Raise AdvertisementError for input no radio could have broadcast: empty or too long."""
    if not payload:
        raise AdvertisementError("empty payload: an advertisement holds at least one AD structure")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise AdvertisementError(
            f"payload of {len(payload)} bytes is longer than any advertisement"
            f" ({LEGACY_PAYLOAD_BYTES} legacy, {MAX_PAYLOAD_BYTES} extended with chaining)",
            offset=MAX_PAYLOAD_BYTES,
        )


def join_ad_structures(structures: Iterable[tuple[int, bytes]]) -> bytes:
    """Encode ``(ad_type, data)`` pairs as a payload (the inverse of :func:`split_ad_structures`)."""
    out = bytearray()
    for ad_type, data in structures:
        if not 0 <= ad_type <= 0xFF:
            raise ValueError(f"AD type must be one byte, got {ad_type}")
        if len(data) + 1 > MAX_AD_LENGTH:
            raise ValueError(f"AD data of {len(data)} bytes does not fit one AD structure")
        out += bytes([len(data) + 1, ad_type]) + bytes(data)
    return bytes(out)


def fields_of(payload: bytes) -> AdvertisementFields:
    """Collect the fields beacon parsers use from a raw payload."""
    manufacturer: dict[int, bytes] = {}
    service: dict[int, bytes] = {}
    uuids: list[int] = []
    name: str | None = None
    tx_power: int | None = None
    flags: int | None = None
    for s in split_ad_structures(payload):
        if s.ad_type == AD_TYPE_MANUFACTURER_DATA:
            _need(s, COMPANY_ID_BYTES, payload, "manufacturer data needs a 2-byte company id")
            manufacturer[int.from_bytes(s.data[:2], "little")] = s.data[2:]
        elif s.ad_type == AD_TYPE_SERVICE_DATA_UUID16:
            _need(s, UUID16_BYTES, payload, "service data needs a 2-byte service UUID")
            service[int.from_bytes(s.data[:2], "little")] = s.data[2:]
        elif s.ad_type in (AD_TYPE_INCOMPLETE_UUID16, AD_TYPE_COMPLETE_UUID16):
            uuids += [
                int.from_bytes(s.data[k : k + 2], "little") for k in range(0, len(s.data) - 1, 2)
            ]
        elif s.ad_type in (AD_TYPE_SHORT_NAME, AD_TYPE_COMPLETE_NAME):
            name = s.data.decode("utf-8", errors="replace")
        elif s.ad_type == AD_TYPE_TX_POWER_LEVEL and len(s.data) == 1:
            tx_power = int.from_bytes(s.data, "little", signed=True)
        elif s.ad_type == AD_TYPE_FLAGS and len(s.data) >= 1:
            flags = s.data[0]
    return AdvertisementFields(manufacturer, service, tuple(uuids), name, tx_power, flags)


def _need(s: AdStructure, n: int, payload: bytes, message: str) -> None:
    if len(s.data) < n:
        raise AdvertisementError(message, data=payload, offset=s.offset)


def parse_hex(text: str) -> bytes:
    """Bytes from hex text; spaces, colons and a ``0x`` prefix are allowed."""
    cleaned = text.strip().removeprefix("0x").removeprefix("0X")
    cleaned = "".join(c for c in cleaned if c not in " :-_\t\n")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as e:
        raise AdvertisementError(f"not a hex string ({e}): {text[:80]!r}") from e
