"""ESPresense node reports become observations of the layout's receivers."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacons.observation import Observation
from presence.errors import UsageError
from presence.services.espresense import (
    EspresenseIngest,
    device_is_intentional,
    is_node_beacon,
    parse_report,
    room_slug,
)
from presence.transport.payloads import PayloadError

IBEACON_ID = "iBeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e-100-1"


def report(**fields: object) -> bytes:
    """A node report in the firmware's field names (BleFingerprint::report)."""
    base: dict[str, object] = {
        "id": IBEACON_ID,
        "name": "staff tag",
        "rssi@1m": -59,
        "rssi": -71,
        "raw": 2.51,
        "distance": 2.37,
        "speed": 0.0,
        "mac": "c2f4a1b30d11",
        "interval": 102,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def ingest(**kw: object) -> EspresenseIngest:
    return EspresenseIngest(receivers={"kitchen": -61.0, "r2": -57.0}, **kw)  # type: ignore[arg-type]


def test_a_report_becomes_a_normalised_observation() -> None:
    ing = ingest()
    obs = ing.handle(f"espresense/devices/{IBEACON_ID}/kitchen", report(), 100.0)
    # -71 dBm from a tag whose 1 m reference is -59, on a receiver declared at -61 dBm.
    assert obs == Observation(100.0, IBEACON_ID, "kitchen", -73.0)
    assert ing.counts == {"kept": 1}


def test_raw_rssi_without_normalisation_or_reference() -> None:
    assert ingest(normalise=False).handle(
        f"espresense/devices/{IBEACON_ID}/kitchen", report(), 1.0
    ) == Observation(1.0, IBEACON_ID, "kitchen", -71.0)
    no_ref = report(**{"rssi@1m": None})
    assert ingest().handle("espresense/devices/x/kitchen", no_ref, 1.0).rssi_dbm == -71.0  # type: ignore[union-attr]


def test_rooms_map_to_receivers_and_unknown_rooms_are_dropped() -> None:
    ing = ingest(room_map={"hall": "r2"})
    assert ing.handle(f"espresense/devices/{IBEACON_ID}/hall", report(), 1.0).beacon_id == "r2"  # type: ignore[union-attr]
    assert ing.handle(f"espresense/devices/{IBEACON_ID}/attic", report(), 1.0) is None
    assert ing.counts == {"kept": 1, "unknown_room": 1}


@pytest.mark.parametrize(
    "device",
    ["c2f4a1b30d11", "apple:1005:9-26", "md:0075:24", "sonos:5c:aa:fd:00:11:22", "msft:cdp:0920"],
)
def test_mac_and_fingerprint_ids_are_dropped(device: str) -> None:
    ing = ingest()
    assert ing.handle(f"espresense/devices/{device}/kitchen", report(id=device), 1.0) is None
    assert ing.counts == {"not_intentional_id": 1}


def test_known_devices_are_accepted() -> None:
    ing = ingest(known_devices={"phone:alice"})
    obs = ing.handle("espresense/devices/phone:alice/kitchen", report(id="phone:alice"), 1.0)
    assert obs is not None and obs.device_id == "phone:alice"
    assert device_is_intentional("altBeacon:2f234454-cf6d-4a0f-adf2-f4911ba9ffa6-1-2")
    assert device_is_intentional("eddy:8b0ca750095477cb3e77-000000000001")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("espresense/devices/x/kitchen", b"{not json", "bad_json"),
        ("espresense/devices/x/kitchen", b"[1, 2]", "wrong_type"),
        ("espresense/devices/x/kitchen", report(rssi=None), "missing_field"),
        ("espresense/devices/x/kitchen", report(rssi="loud"), "wrong_type"),
        ("espresense/devices/x/kitchen", report(rssi=12), "rssi_out_of_range"),
        ("espresense/devices/x", report(), "wrong_type"),
        ("espresense/devices/x/kitchen", b" " * 70_000, "oversized"),
    ],
)
def test_malformed_reports_name_a_reason(topic: str, payload: bytes, reason: str) -> None:
    ing = ingest()
    with pytest.raises(PayloadError) as info:
        ing.handle(topic, payload, 1.0)
    assert info.value.reason == reason
    assert ing.counts == {"malformed": 1}


def test_parse_keeps_distance_and_reference() -> None:
    r = parse_report(f"espresense/devices/{IBEACON_ID}/kitchen", report())
    assert (r.room, r.rssi_at_1m_dbm, r.distance_m) == ("kitchen", -59.0, 2.37)


# --- issue 19: ESPresense as the firmware really talks -------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Upstairs Hallway", "upstairs_hallway"),
        ("living-room", "living_room"),
        ("office_alt", "office_alt"),
        ("  Kid's Room #2 ", "kid_s_room_2"),
        ("Küche", "k_che"),  # std::regex's \W is ASCII-only: each byte of ü is a non-word
    ],
)
def test_room_slug_is_the_firmwares(name: str, slug: str) -> None:
    assert room_slug(name) == slug


@pytest.mark.parametrize("layout_id", ["upstairs_hallway", "upstairs-hallway", "Upstairs Hallway"])
def test_the_firmwares_room_matches_the_layout_id_however_spelled(layout_id: str) -> None:
    ing = EspresenseIngest(receivers={layout_id: -60.0})
    obs = ing.handle(f"espresense/devices/{IBEACON_ID}/upstairs_hallway", report(), 1.0)
    assert obs is not None and obs.beacon_id == layout_id
    assert ing.counts == {"kept": 1}


def test_a_room_map_is_matched_by_slug_too() -> None:
    ing = ingest(room_map={"Front Hall": "r2"})
    obs = ing.handle(f"espresense/devices/{IBEACON_ID}/front_hall", report(), 1.0)
    assert obs is not None and obs.beacon_id == "r2"


def test_receivers_that_are_one_room_for_the_firmware_are_refused() -> None:
    with pytest.raises(UsageError, match="'living-room' and 'living_room'"):
        EspresenseIngest(receivers={"living-room": -60.0, "living_room": -60.0})


NODE_BEACON = "iBeacon:e5ca1ade-f007-ba11-0000-000000000000-41246-19432"


@pytest.mark.parametrize(
    "device", [NODE_BEACON, NODE_BEACON.upper().replace("IBEACON", "iBeacon"), "node:kitchen"]
)
def test_a_nodes_own_beacon_is_never_a_shopper(device: str) -> None:
    # Even listed as known: a node is a fixed radio, never a device on the floor.
    ing = ingest(known_devices={device})
    assert is_node_beacon(device)
    assert ing.handle(f"espresense/devices/{device}/kitchen", report(id=device), 1.0) is None
    assert ing.counts == {"node_beacon": 1}


def test_a_missing_reference_reuses_the_devices_last_one_at_that_node() -> None:
    ing = ingest()
    topic = f"espresense/devices/{IBEACON_ID}/kitchen"
    no_ref = report(**{"rssi@1m": None})
    first = ing.handle(topic, no_ref, 1.0)  # nothing known yet: the raw RSSI, counted
    ing.handle(topic, report(**{"rssi@1m": -65}), 2.0)
    later = ing.handle(topic, no_ref, 3.0)
    assert first is not None and first.rssi_dbm == -71.0
    # -71 dBm moved from the device's last reference at this node (-65) onto -61 dBm.
    assert later is not None and later.rssi_dbm == -67.0
    # At another node the reference is not known: raw again.
    other = ing.handle(f"espresense/devices/{IBEACON_ID}/r2", no_ref, 4.0)
    assert other is not None and other.rssi_dbm == -71.0
    assert ing.counts == {"kept": 4, "rssi@1m_missing_raw": 2, "rssi@1m_missing_reused": 1}


def test_a_normalised_rssi_above_zero_is_refused_with_a_reason() -> None:
    ing = ingest()
    # -5 dBm from a tag declaring -70 dBm at 1 m, on a receiver at -61: +4 dBm.
    with pytest.raises(PayloadError) as info:
        ing.handle(
            f"espresense/devices/{IBEACON_ID}/kitchen", report(rssi=-5, **{"rssi@1m": -70}), 1.0
        )
    assert info.value.reason == "rssi_out_of_range" and "normalised rssi 4" in info.value.detail
    assert ing.counts == {"rssi_out_of_range": 1}


def test_remembered_references_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from presence.services import espresense

    monkeypatch.setattr(espresense, "MAX_REFERENCES", 2)
    ing = ingest()
    tags = [f"iBeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e-1-{i}" for i in range(3)]
    for tag in tags:
        ing.handle(f"espresense/devices/{tag}/kitchen", report(id=tag), 1.0)
    no_ref = {"rssi@1m": None}
    first = ing.handle(f"espresense/devices/{tags[0]}/kitchen", report(id=tags[0], **no_ref), 2.0)
    last = ing.handle(f"espresense/devices/{tags[2]}/kitchen", report(id=tags[2], **no_ref), 2.0)
    assert first is not None and first.rssi_dbm == -71.0  # the oldest was forgotten: raw
    assert last is not None and last.rssi_dbm == -73.0  # -71 + 59 - 61


@given(st.text(max_size=40))
def test_room_slugs_are_plain_settled_and_matched_by_any_spelling(name: str) -> None:
    slug = room_slug(name)
    assert re.fullmatch(r"[a-z0-9_]*", slug) and not slug.startswith("_") and not slug.endswith("_")
    assert room_slug(slug) == slug
    assert room_slug(name.upper()) == room_slug(name.lower()) or not name.isascii()
