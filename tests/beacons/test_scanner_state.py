"""The scanner's adapter state (scanning, lost since when) and the fake radio's script timing,
through bleak's real BleakScanner face with the fake backend."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from beacons.errors import ScannerError
from beacons.fakeradio import AdapterOutage, FakeAdvertisement, FakeRadioEvent, fake_backend
from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from beacons.identity import BeaconIdentities
from beacons.observation import Observation
from beacons.scanner import BleakObservationSource, RetryPolicy, ScannerState
from positioning.layout import load_layout

SHOWROOM_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
FAST = RetryPolicy(initial_s=0.01, max_s=0.04, silence_restart_s=0.05)


def ad(minor: int, rssi: int, delay_s: float = 0.001) -> FakeAdvertisement:
    return FakeAdvertisement(delay_s, encode_payload(IBeacon(SHOWROOM_UUID, 2, minor, -59)), rssi)


def source(
    showroom_path: Path, events: list[FakeRadioEvent], states: list[ScannerState], **kw: object
) -> BleakObservationSource:
    ticks = itertools.count()
    return BleakObservationSource(
        BeaconIdentities(load_layout(showroom_path).beacons),
        device_id="phone",
        clock=lambda: 1000.0 + next(ticks),
        backend=fake_backend(events, **kw),  # type: ignore[arg-type]
        retry=FAST,
        on_state=states.append,
    )


async def take(src: BleakObservationSource, n: int) -> list[Observation]:
    out: list[Observation] = []

    async def run() -> None:
        async for obs in src:
            out.append(obs)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), timeout=10)
    return out


def test_adapter_lost_is_reported_since_the_last_advertisement_then_scanning_again(
    showroom_path: Path,
) -> None:
    states: list[ScannerState] = []
    events: list[FakeRadioEvent] = [ad(1, -60), ad(2, -70), AdapterOutage(3), ad(3, -65)]
    src = source(showroom_path, events, states)
    got = asyncio.run(take(src, 3))
    assert [o.beacon_id for o in got] == ["s1", "s2", "s3"]
    assert [s.adapter for s in states] == ["scanning", "lost", "scanning"]
    lost = states[1]
    last_heard = got[1].t_s
    assert lost.since_s == last_heard, "lost since the adapter went quiet, not since noticed"
    assert lost.last_heard_s == last_heard
    assert "not found" in lost.problem and "bluetoothctl" in lost.next_steps
    assert states[2].since_s > lost.since_s and src.state is states[2]


def test_probe_refuses_a_missing_adapter_with_next_steps(showroom_path: Path) -> None:
    states: list[ScannerState] = []
    # An outage before any advertisement: no adapter from the start.
    src = source(showroom_path, [AdapterOutage(1), ad(1, -60)], states)
    with pytest.raises(ScannerError) as info:
        asyncio.run(src.probe())
    assert "was not found" in info.value.problem and "--adapter" in info.value.next_steps
    assert states == [], "a refused probe never claims to be scanning"
    asyncio.run(src.probe())  # the one failing start is used up: the adapter is back


def test_a_probe_loses_no_advertisement(showroom_path: Path) -> None:
    src = source(showroom_path, [ad(1, -60), ad(2, -61)], [])
    asyncio.run(src.probe())
    got = asyncio.run(take(src, 2))
    assert [o.beacon_id for o in got] == ["s1", "s2"]


def test_a_restart_mid_wait_keeps_the_script_on_time(showroom_path: Path) -> None:
    # A 0.3 s gap is longer than the silence restart (0.05 s): the scan restarts several
    # times during it, and the advertisement still comes when due, not a wait later.
    src = source(showroom_path, [ad(1, -60), ad(2, -61, delay_s=0.3)], [])
    began = time.monotonic()
    got = asyncio.run(take(src, 2))
    assert [o.beacon_id for o in got] == ["s1", "s2"]
    assert time.monotonic() - began < 2.0
    assert src.stats.restarts >= 2


def test_speed_plays_the_waits_faster(showroom_path: Path) -> None:
    events: list[FakeRadioEvent] = [ad(1, -60, delay_s=0.5) for _ in range(4)]
    src = source(showroom_path, events, [], speed=10.0)
    began = time.monotonic()
    asyncio.run(take(src, 4))
    assert time.monotonic() - began < 1.5, "2 s of script at 10x"
    assert src.backend is not None and src.backend.radio.finished  # type: ignore[attr-defined]


def test_speed_must_be_positive() -> None:
    from beacons.errors import BeaconsError

    with pytest.raises(BeaconsError, match="speed"):
        fake_backend([], speed=0.0)
