"""Matching heard beacon frames to the layout's beacons by what they advertise on purpose.

A beacon is recognised by its iBeacon/AltBeacon identifiers (UUID, major, minor) or its
Eddystone-UID (namespace, instance) as declared in the layout. The radio's MAC address
is never used: phones and many beacons randomise it, and it identifies people. Frames
that match no layout beacon are dropped and never stored.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from beacons.altbeacon import AltBeacon
from beacons.eddystone import EddystoneUid
from beacons.errors import BeaconsError
from beacons.frames import BeaconFrame
from beacons.ibeacon import IBeacon

__all__ = ["BeaconDeclaration", "BeaconIdentities", "Match"]

#: (uuid, major or None, minor or None); None is a wildcard declared by the layout.
_IdKey = tuple[str, int | None, int | None]
#: (namespace hex, instance hex or None).
_EddyKey = tuple[str, str | None]
_K = TypeVar("_K", _IdKey, _EddyKey)


class BeaconDeclaration(Protocol):
    """What identity needs of a layout beacon (``positioning.layout.Beacon`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def uuid(self) -> str | None: ...
    @property
    def major(self) -> int | None: ...
    @property
    def minor(self) -> int | None: ...
    @property
    def eddystone_namespace(self) -> str | None: ...
    @property
    def eddystone_instance(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Match:
    """A frame recognised as layout beacon ``beacon_id``; ``rssi_at_1m_dbm`` as advertised."""

    beacon_id: str
    rssi_at_1m_dbm: float | None


def _norm_uuid(text: str) -> str:
    try:
        return str(uuidlib.UUID(text.strip()))
    except ValueError as e:
        raise BeaconsError(f"not a UUID: {text!r}") from e


def _norm_hex(text: str, n_bytes: int, what: str) -> str:
    cleaned = text.strip().lower().removeprefix("0x").replace("-", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError as e:
        raise BeaconsError(f"{what} must be hex, got {text!r}") from e
    if len(raw) != n_bytes:
        raise BeaconsError(f"{what} must be {n_bytes} bytes of hex, got {text!r}")
    return raw.hex()


class BeaconIdentities:
    """Lookup from advertised identifiers to layout beacon ids."""

    def __init__(self, beacons: Iterable[BeaconDeclaration]) -> None:
        self._ids: dict[_IdKey, str] = {}
        self._eddy: dict[_EddyKey, str] = {}
        for b in beacons:
            if b.uuid is not None:
                self._add(self._ids, (_norm_uuid(b.uuid), b.major, b.minor), b.id)
            if b.eddystone_namespace is not None:
                ns = _norm_hex(b.eddystone_namespace, 10, f"beacon {b.id} eddystone_namespace")
                inst = b.eddystone_instance
                key = (ns, None if inst is None else _norm_hex(inst, 6, f"beacon {b.id} instance"))
                self._add(self._eddy, key, b.id)

    @staticmethod
    def _add(table: dict[_K, str], key: _K, beacon_id: str) -> None:
        if key in table:
            raise BeaconsError(
                f"beacons {table[key]!r} and {beacon_id!r} declare the same identifiers {key}"
            )
        table[key] = beacon_id

    def __len__(self) -> int:
        return len(self._ids) + len(self._eddy)

    def match(self, frame: BeaconFrame) -> Match | None:
        """The layout beacon a frame comes from, None if it is none of ours."""
        if isinstance(frame, IBeacon):
            found = self._match_ids(frame.uuid, frame.major, frame.minor)
        elif isinstance(frame, AltBeacon):
            found = self._match_ids(frame.id1, frame.id2, frame.id3)
        elif isinstance(frame, EddystoneUid):
            found = self._eddy.get((frame.namespace, frame.instance)) or self._eddy.get(
                (frame.namespace, None)
            )
        else:
            return None  # URL/TLM/EID frames carry no stable identity
        if found is None:
            return None
        return Match(found, frame.rssi_at_1m_dbm)

    def _match_ids(self, uuid: str, major: int, minor: int) -> str | None:
        for key in ((uuid, major, minor), (uuid, major, None), (uuid, None, None)):
            if key in self._ids:
                return self._ids[key]
        return None
