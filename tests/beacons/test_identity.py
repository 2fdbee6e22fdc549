"""Advertised identifiers map to layout beacons; everything else is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from beacons.altbeacon import AltBeacon
from beacons.eddystone import EddystoneTlm, EddystoneUid
from beacons.errors import BeaconsError
from beacons.ibeacon import IBeacon
from beacons.identity import BeaconIdentities, Match
from positioning.layout import load_layout

U = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


@dataclass(frozen=True)
class Decl:
    id: str
    uuid: str | None = None
    major: int | None = None
    minor: int | None = None
    eddystone_namespace: str | None = None
    eddystone_instance: str | None = None


def test_showroom_ibeacons_match_by_uuid_major_minor(showroom_path: Path) -> None:
    ids = BeaconIdentities(load_layout(showroom_path).beacons)
    assert ids.match(IBeacon(U, 2, 3, -59)) == Match("s3", -59.0)
    assert ids.match(IBeacon(U, 2, 9, -59)) is None
    assert ids.match(IBeacon(U, 3, 3, -59)) is None


def test_uuid_spelling_does_not_matter_and_wildcards_apply() -> None:
    ids = BeaconIdentities(
        [Decl("a", uuid=U.upper(), major=7), Decl("b", uuid=U, major=7, minor=1)]
    )
    assert ids.match(IBeacon(U, 7, 1, -60)).beacon_id == "b"  # type: ignore[union-attr]
    assert ids.match(IBeacon(U, 7, 2, -60)).beacon_id == "a"  # type: ignore[union-attr]


def test_altbeacon_matches_as_id1_id2_id3() -> None:
    ids = BeaconIdentities([Decl("alt", uuid=U, major=1, minor=2)])
    frame = AltBeacon(0x0118, bytes.fromhex(U.replace("-", "")) + bytes([0, 1, 0, 2]), -60)
    assert ids.match(frame) == Match("alt", -60.0)


def test_eddystone_uid_matches_namespace_and_instance() -> None:
    ids = BeaconIdentities(
        [
            Decl(
                "e1",
                eddystone_namespace="8B0CA750095477CB3E77",
                eddystone_instance="0x000000000001",
            ),
            Decl("any", eddystone_namespace="00112233445566778899"),
        ]
    )
    assert ids.match(EddystoneUid("8b0ca750095477cb3e77", "000000000001", -20)) == Match(
        "e1", -61.0
    )
    assert ids.match(EddystoneUid("00112233445566778899", "abcdefabcdef", -20)).beacon_id == "any"  # type: ignore[union-attr]
    assert ids.match(EddystoneTlm(3000, 20.0, 1, 1.0)) is None


@pytest.mark.parametrize(
    "decls",
    [
        [Decl("a", uuid=U, major=1, minor=1), Decl("b", uuid=U.upper(), major=1, minor=1)],
        [Decl("a", uuid="not-a-uuid")],
        [Decl("a", eddystone_namespace="0011")],
    ],
)
def test_bad_declarations_are_rejected(decls: list[Decl]) -> None:
    with pytest.raises(BeaconsError):
        BeaconIdentities(decls)
