"""Eddystone frames: service data of the 16-bit service UUID 0xFEAA.

From Google's Eddystone protocol specification (github.com/google/eddystone:
protocol-specification.md, eddystone-uid, eddystone-url, eddystone-tlm/tlm-plain.md,
eddystone-eid). The frame type is the high nibble of the first byte; all multi-byte
values are big endian. Ranging data / TX power is the RSSI at 0 m in dBm; the spec
advises 41 dB of loss over the first metre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from beacons.errors import AdvertisementError, UnsupportedFrameError

__all__ = [
    "EDDYSTONE_UUID16",
    "EddystoneEid",
    "EddystoneFrame",
    "EddystoneTlm",
    "EddystoneUid",
    "EddystoneUrl",
    "EID_BYTES",
    "encode_eddystone",
    "encode_url",
    "FRAME_EID",
    "FRAME_TLM",
    "FRAME_UID",
    "FRAME_URL",
    "INSTANCE_BYTES",
    "LOSS_AT_1M_DB",
    "NAMESPACE_BYTES",
    "parse_eddystone",
    "TLM_BYTES",
    "TLM_NO_BATTERY",
    "TLM_NO_TEMPERATURE",
    "TLM_TICKS_PER_SECOND",
    "TLM_VERSION_PLAIN",
    "UID_BYTES",
    "UID_BYTES_SHORT",
    "URL_EXPANSIONS",
    "URL_HEADER_BYTES",
    "URL_MAX_ENCODED_BYTES",
    "URL_SCHEMES",
]

#: Eddystone service UUID (16-bit, SIG assigned to Google).
EDDYSTONE_UUID16 = 0xFEAA

FRAME_UID = 0x00
FRAME_URL = 0x10
FRAME_TLM = 0x20
FRAME_EID = 0x30

#: Loss over the first metre the spec uses to relate 0 m and 1 m power (eddystone-uid, "Tx Power").
LOSS_AT_1M_DB = 41

NAMESPACE_BYTES = 10
INSTANCE_BYTES = 6
#: UID frame: type, power, namespace, instance (18), plus two RFU bytes (20). Both occur.
UID_BYTES_SHORT = 18
UID_BYTES = 20
#: URL frame: type, power, scheme, then 0..17 encoded bytes.
URL_HEADER_BYTES = 3
URL_MAX_ENCODED_BYTES = 17
#: Plain TLM (version 0x00): type, version, battery (2), temperature (2), adv count (4), seconds (4).
TLM_BYTES = 14
TLM_VERSION_PLAIN = 0x00
#: TLM "not supported" markers (tlm-plain.md): battery 0 mV, temperature 0x8000 (-128 C).
TLM_NO_BATTERY = 0
TLM_NO_TEMPERATURE = -0x8000
#: TLM time counter ticks per second (0.1 s resolution); dividing keeps decimal values exact.
TLM_TICKS_PER_SECOND = 10
EID_BYTES = 10

#: URL scheme prefixes (eddystone-url, "URL Scheme Prefix").
URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
#: Text expansion codes 0x00..0x0D (eddystone-url, "HTTP URL encoding").
URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip
#: Plain characters allowed in the encoded URL: printable US-ASCII 0x21..0x7E.
URL_CHAR_MIN, URL_CHAR_MAX = 0x21, 0x7E


def _power(data: bytes) -> int:
    return int.from_bytes(data[1:2], "big", signed=True)


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    """``namespace`` (10 bytes) and ``instance`` (6 bytes) as lower-case hex."""

    namespace: str
    instance: str
    tx_power_0m_dbm: int

    kind: ClassVar[str] = "eddystone-uid"

    @property
    def rssi_at_1m_dbm(self) -> float:
        return float(self.tx_power_0m_dbm - LOSS_AT_1M_DB)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.kind,
            "namespace": self.namespace,
            "instance": self.instance,
            "tx_power_0m_dbm": self.tx_power_0m_dbm,
            "rssi_at_1m_dbm": self.rssi_at_1m_dbm,
        }


@dataclass(frozen=True, slots=True)
class EddystoneUrl:
    url: str
    tx_power_0m_dbm: int

    kind: ClassVar[str] = "eddystone-url"

    @property
    def rssi_at_1m_dbm(self) -> float:
        return float(self.tx_power_0m_dbm - LOSS_AT_1M_DB)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.kind, "url": self.url, "tx_power_0m_dbm": self.tx_power_0m_dbm}


@dataclass(frozen=True, slots=True)
class EddystoneTlm:
    """Telemetry. None where the beacon marks a value as not supported."""

    battery_mv: int | None
    temperature_c: float | None
    adv_count: int
    uptime_s: float

    kind: ClassVar[str] = "eddystone-tlm"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.kind,
            "battery_mv": self.battery_mv,
            "temperature_c": self.temperature_c,
            "adv_count": self.adv_count,
            "uptime_s": self.uptime_s,
        }


@dataclass(frozen=True, slots=True)
class EddystoneEid:
    """Ephemeral id (8 bytes hex): rotates, so it identifies nothing without the resolver key."""

    eid: str
    tx_power_0m_dbm: int

    kind: ClassVar[str] = "eddystone-eid"

    def to_json(self) -> dict[str, Any]:
        return {"format": self.kind, "eid": self.eid, "tx_power_0m_dbm": self.tx_power_0m_dbm}


EddystoneFrame = EddystoneUid | EddystoneUrl | EddystoneTlm | EddystoneEid


def parse_eddystone(uuid16: int, data: bytes) -> EddystoneFrame | None:
    """The Eddystone frame in service data (after the UUID), None if not Eddystone or unsupported.

    Encrypted TLM (version 0x01) is valid but unreadable without the key: None.
    """
    if uuid16 != EDDYSTONE_UUID16:
        return None
    if not data:
        raise AdvertisementError(
            "Eddystone service data is empty (no frame type)", data=data, offset=0
        )
    frame_type = data[0]
    if frame_type == FRAME_UID:
        return _parse_uid(data)
    if frame_type == FRAME_URL:
        return _parse_url(data)
    if frame_type == FRAME_TLM:
        return _parse_tlm(data)
    if frame_type == FRAME_EID:
        _expect_length(data, (EID_BYTES,), "EID")
        return EddystoneEid(data[2:EID_BYTES].hex(), _power(data))
    raise UnsupportedFrameError(
        f"unsupported Eddystone frame type 0x{frame_type:02X} (read: 0x00 UID, 0x10 URL, 0x20 TLM, 0x30 EID)",
        data=data,
        offset=0,
    )


def _expect_length(data: bytes, allowed: tuple[int, ...], name: str) -> None:
    if len(data) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise AdvertisementError(
            f"Eddystone-{name} frame has {len(data)} bytes, expected {want}",
            data=data,
            offset=min(len(data), max(allowed)),
        )


def _parse_uid(data: bytes) -> EddystoneUid:
    _expect_length(data, (UID_BYTES_SHORT, UID_BYTES), "UID")
    ns_end = 2 + NAMESPACE_BYTES
    return EddystoneUid(
        namespace=data[2:ns_end].hex(),
        instance=data[ns_end : ns_end + INSTANCE_BYTES].hex(),
        tx_power_0m_dbm=_power(data),
    )


def _parse_url(data: bytes) -> EddystoneUrl:
    if not URL_HEADER_BYTES <= len(data) <= URL_HEADER_BYTES + URL_MAX_ENCODED_BYTES:
        raise AdvertisementError(
            f"Eddystone-URL frame has {len(data)} bytes, expected 3 to 20",
            data=data,
            offset=min(len(data), URL_HEADER_BYTES + URL_MAX_ENCODED_BYTES),
        )
    scheme = data[2]
    if scheme >= len(URL_SCHEMES):
        raise AdvertisementError(
            f"Eddystone-URL scheme prefix 0x{scheme:02X} is not defined (0x00-0x03)",
            data=data,
            offset=2,
        )
    parts = [URL_SCHEMES[scheme]]
    for i in range(URL_HEADER_BYTES, len(data)):
        b = data[i]
        if b < len(URL_EXPANSIONS):
            parts.append(URL_EXPANSIONS[b])
        elif URL_CHAR_MIN <= b <= URL_CHAR_MAX:
            parts.append(chr(b))
        else:
            raise AdvertisementError(
                f"Eddystone-URL byte 0x{b:02X} is reserved (neither an expansion code nor printable ASCII)",
                data=data,
                offset=i,
            )
    return EddystoneUrl("".join(parts), _power(data))


def _parse_tlm(data: bytes) -> EddystoneTlm | None:
    if len(data) < 2:
        raise AdvertisementError("Eddystone-TLM frame has no version byte", data=data, offset=1)
    if data[1] != TLM_VERSION_PLAIN:
        return None  # encrypted TLM: valid, but only the key holder can read it
    _expect_length(data, (TLM_BYTES,), "TLM")
    battery = int.from_bytes(data[2:4], "big")
    temp_raw = int.from_bytes(data[4:6], "big", signed=True)
    return EddystoneTlm(
        battery_mv=None if battery == TLM_NO_BATTERY else battery,
        temperature_c=None if temp_raw == TLM_NO_TEMPERATURE else temp_raw / 256.0,
        adv_count=int.from_bytes(data[6:10], "big"),
        uptime_s=int.from_bytes(data[10:14], "big") / TLM_TICKS_PER_SECOND,
    )


def encode_eddystone(frame: EddystoneFrame) -> bytes:
    """Service data (after the 0xFEAA UUID) for a frame; inverse of :func:`parse_eddystone`."""
    if isinstance(frame, EddystoneUid):
        ns, inst = bytes.fromhex(frame.namespace), bytes.fromhex(frame.instance)
        if len(ns) != NAMESPACE_BYTES or len(inst) != INSTANCE_BYTES:
            raise ValueError("Eddystone-UID namespace must be 10 bytes and instance 6 bytes")
        return bytes([FRAME_UID]) + _power_byte(frame.tx_power_0m_dbm) + ns + inst + b"\x00\x00"
    if isinstance(frame, EddystoneUrl):
        return bytes([FRAME_URL]) + _power_byte(frame.tx_power_0m_dbm) + encode_url(frame.url)
    if isinstance(frame, EddystoneTlm):
        temp = (
            TLM_NO_TEMPERATURE if frame.temperature_c is None else round(frame.temperature_c * 256)
        )
        return (
            bytes([FRAME_TLM, TLM_VERSION_PLAIN])
            + (frame.battery_mv or TLM_NO_BATTERY).to_bytes(2, "big")
            + temp.to_bytes(2, "big", signed=True)
            + frame.adv_count.to_bytes(4, "big")
            + round(frame.uptime_s * TLM_TICKS_PER_SECOND).to_bytes(4, "big")
        )
    eid = bytes.fromhex(frame.eid)
    if len(eid) != EID_BYTES - 2:
        raise ValueError("Eddystone-EID ephemeral id must be 8 bytes")
    return bytes([FRAME_EID]) + _power_byte(frame.tx_power_0m_dbm) + eid


def _power_byte(dbm: int) -> bytes:
    if not -128 <= dbm <= 127:
        raise ValueError(f"TX power must fit a signed byte, got {dbm}")
    return dbm.to_bytes(1, "big", signed=True)


def encode_url(url: str) -> bytes:
    """Scheme byte and compressed URL bytes. Raises ValueError if it cannot be encoded in 17 bytes."""
    for code in sorted(range(len(URL_SCHEMES)), key=lambda c: -len(URL_SCHEMES[c])):
        if url.startswith(URL_SCHEMES[code]):
            rest = url[len(URL_SCHEMES[code]) :]
            break
    else:
        raise ValueError(f"Eddystone-URL must start with http:// or https://, got {url!r}")
    out = bytearray([code])
    by_length = sorted(range(len(URL_EXPANSIONS)), key=lambda c: -len(URL_EXPANSIONS[c]))
    i = 0
    while i < len(rest):
        for c in by_length:
            if rest.startswith(URL_EXPANSIONS[c], i):
                out.append(c)
                i += len(URL_EXPANSIONS[c])
                break
        else:
            ch = ord(rest[i])
            if not URL_CHAR_MIN <= ch <= URL_CHAR_MAX:
                raise ValueError(f"character {rest[i]!r} cannot be sent in an Eddystone-URL")
            out.append(ch)
            i += 1
    if len(out) - 1 > URL_MAX_ENCODED_BYTES:
        raise ValueError(
            f"URL encodes to {len(out) - 1} bytes, Eddystone-URL allows {URL_MAX_ENCODED_BYTES}"
        )
    return bytes(out)
