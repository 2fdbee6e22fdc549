"""ESPresense reports obey the id rule of every other edge (issue 18, build 1): a node report
whose device id has control characters, blanks at its ends or more than 128 characters is
refused as ``invalid_id`` (and dead-lettered by the relay), never turned into a topic level.
A 65,000-character id (a payload just under the 64 KiB bound) would otherwise make a
positions topic longer than MQTT's 65,535 bytes."""

from __future__ import annotations

import json

import pytest

from presence.services.espresense import EspresenseIngest
from presence.transport.payloads import PayloadError

T = 1_795_424_400.0


def report(device: str) -> bytes:
    return json.dumps({"id": device, "rssi": -70, "rssi@1m": -59}).encode()


@pytest.mark.parametrize(
    "device",
    [
        "iBeacon:" + "f" * 65_000,
        "iBeacon:" + "f" * 121,  # 129 characters
        "iBeacon:a\x01b",
        "iBeacon:a\nb",
        "iBeacon:\u202eevil",
        "iBeacon:tag ",
    ],
)
def test_an_id_breaking_the_id_rule_is_refused_with_a_reason(device: str) -> None:
    ing = EspresenseIngest(receivers={"kitchen": -61.0}, known_devices={device})
    with pytest.raises(PayloadError) as info:
        ing.handle("espresense/devices/x/kitchen", report(device), T)
    assert info.value.reason == "invalid_id"
    assert ing.counts == {"malformed": 1}


def test_ids_within_the_rule_still_pass_and_topic_characters_are_mended() -> None:
    ing = EspresenseIngest(receivers={"kitchen": -61.0})
    longest = "iBeacon:" + "f" * 120  # 128 characters
    assert ing.handle("espresense/devices/x/kitchen", report(longest), T) is not None
    mended = ing.handle("espresense/devices/x/kitchen", report("iBeacon:a/b+c#d"), T)
    assert mended is not None and mended.device_id == "iBeacon:a_b_c_d"
