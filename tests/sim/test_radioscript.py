"""Radio scripts from a simulated day: the layout's real payloads, the simulated RSSI and timing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from beacons.fakeradio import FakeAdvertisement, load_fake_advertisements
from beacons.frames import read_frames
from beacons.identity import BeaconIdentities
from positioning.layout import Beacon, load_layout
from presence.cli import main
from sim.obslog import read_observation_log
from sim.radioscript import RadioScriptError, beacon_frame, pick_visits, script_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def showroom_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day") / "sim"
    store = str(EXAMPLES / "stores" / "showroom.toml")
    # The command examples/radio/README.md gives for the shipped scripts.
    args = ["--shoppers", "12", "--duration", "20m", "--seed", "2", "-o", str(out), "--quiet"]
    assert main(["simulate", "--store", store, *args]) == 0
    return out


def matched_ids(payload: bytes, identities: BeaconIdentities) -> list[str | None]:
    """The layout beacons a scanner would match in ``payload`` (what bleak would report)."""
    from beacons.adstructures import fields_of

    f = fields_of(payload)
    frames = read_frames(dict(f.manufacturer_data), dict(f.service_data)).frames
    return [m.beacon_id if (m := identities.match(fr)) else None for fr in frames]


def test_ibeacon_and_eddystone_payloads_match_their_layout_beacon() -> None:
    ibeacon = Beacon(
        "door", 1.0, 1.0, -59.0, uuid="f7826da6-4fa2-4e98-8024-bc5b71e0893e", major=2, minor=7
    )
    eddy = Beacon(
        "till",
        2.0,
        2.0,
        -61.0,
        eddystone_namespace="8b0ca750095477cb3e77",
        eddystone_instance="000000000001",
    )
    identities = BeaconIdentities((ibeacon, eddy))
    from beacons.frames import encode_payload

    for beacon in (ibeacon, eddy):
        frame = beacon_frame(beacon)
        assert frame.rssi_at_1m_dbm == beacon.tx_power_dbm
        assert matched_ids(encode_payload(frame), identities) == [beacon.id]
    with pytest.raises(RadioScriptError, match="'bare'"):
        beacon_frame(Beacon("bare", 0.0, 0.0, -59.0))


def test_a_script_is_the_devices_readings_with_real_payloads(showroom_day: Path) -> None:
    layout = load_layout(EXAMPLES / "stores" / "showroom.toml")
    [visit] = pick_visits(showroom_day, 1, min_dwells=2)
    assert len(visit.dwells) >= 2
    [lines] = script_lines(showroom_day, layout, [visit])
    path = showroom_day.parent / "visit.jsonl"
    path.write_text("\n".join(lines) + "\n")
    events = load_fake_advertisements(path)
    assert all(isinstance(e, FakeAdvertisement) for e in events)
    ads = [e for e in events if isinstance(e, FakeAdvertisement)]
    batch = read_observation_log(showroom_day).batch
    mine = batch.device_id == visit.device_id
    mine &= (batch.t_s >= visit.enter_s - 30.0) & (batch.t_s <= visit.exit_s + 30.0)
    assert len(ads) == int(mine.sum())
    identities = BeaconIdentities(layout.beacons)
    heard = [matched_ids(a.payload, identities)[0] for a in ads]
    assert heard == batch.beacon_id[mine].tolist()
    assert [a.rssi_dbm for a in ads] == np.round(batch.rssi_dbm[mine]).astype(int).tolist()
    t = batch.t_s[mine]
    assert sum(a.delay_s for a in ads) == pytest.approx(t[-1] - t[0], abs=0.01 * len(ads))


def test_two_people_overlap_and_start_together(showroom_day: Path) -> None:
    visits = pick_visits(showroom_day, 2, min_dwells=2)
    a, b = visits
    assert min(a.exit_s, b.exit_s) > max(a.enter_s, b.enter_s), "in the store at once"
    layout = load_layout(EXAMPLES / "stores" / "showroom.toml")
    scripts = script_lines(showroom_day, layout, visits)
    first_waits = [json.loads(s[1])["dt_s"] for s in scripts]
    assert min(first_waits) == 0.0 and max(first_waits) > 0.0, "the later one waits"


def test_no_suitable_visit_is_a_clear_error(showroom_day: Path) -> None:
    with pytest.raises(RadioScriptError, match="no 40 overlapping"):
        pick_visits(showroom_day, 40)


def test_command_writes_one_file_or_a_folder_of_people(
    showroom_day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(EXAMPLES / "stores" / "showroom.toml")
    args = ["radio-script", "--sim", str(showroom_day), "--store", store]
    assert main([*args, "-o", str(tmp_path / "one.jsonl")]) == 0
    assert load_fake_advertisements(tmp_path / "one.jsonl")
    assert main([*args, "--people", "2", "-o", str(tmp_path / "two")]) == 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "person-1.jsonl",
        "person-2.jsonl",
    ]
    assert main([*args, "--device", "nobody", "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "--device: no complete visible visit of nobody" in capsys.readouterr().err


def test_the_shipped_examples_are_what_the_command_makes(
    showroom_day: Path, tmp_path: Path
) -> None:
    """examples/radio/README.md says how they were made; this keeps it true."""
    store = str(EXAMPLES / "stores" / "showroom.toml")
    args = ["radio-script", "--sim", str(showroom_day), "--store", store]
    assert main([*args, "--people", "2", "-o", str(tmp_path / "two")]) == 0
    shipped = EXAMPLES / "radio" / "showroom-two-people"
    for name in ("person-1.jsonl", "person-2.jsonl"):
        made = (tmp_path / "two" / name).read_text().splitlines()[1:]  # header names the folder
        assert made == (shipped / name).read_text().splitlines()[1:]
