"""The scanner adapter through bleak's real BleakScanner face, with a scripted fake backend."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakError

from beacons.eddystone import EddystoneUrl
from beacons.errors import ScannerError
from beacons.fakeradio import AdapterOutage, FakeAdvertisement, FakeRadioEvent, fake_backend
from beacons.frames import encode_payload
from beacons.ibeacon import IBeacon
from beacons.identity import BeaconIdentities
from beacons.observation import Observation
from beacons.scanner import (
    BleakObservationSource,
    Heard,
    RetryPolicy,
    explain_scanner_error,
)
from beacons.source import ObservationSource
from positioning.layout import load_layout

SHOWROOM_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
FAST = RetryPolicy(initial_s=0.01, max_s=0.04, silence_restart_s=0.05)


def ad(minor: int, rssi: int, uuid: str = SHOWROOM_UUID, address: str = "AA") -> FakeAdvertisement:
    return FakeAdvertisement(0.001, encode_payload(IBeacon(uuid, 2, minor, -59)), rssi, address)


def identities(showroom_path: Path) -> BeaconIdentities:
    return BeaconIdentities(load_layout(showroom_path).beacons)


def make_source(
    showroom_path: Path,
    events: list[FakeRadioEvent],
    failing_starts: int = 0,
    retry: RetryPolicy = FAST,
    **kw: object,
) -> BleakObservationSource:
    ticks = itertools.count()
    return BleakObservationSource(
        identities(showroom_path),
        device_id="laptop",
        clock=lambda: 1000.0 + next(ticks),
        backend=fake_backend(events, failing_starts=failing_starts),
        retry=retry,
        **kw,  # type: ignore[arg-type]
    )


async def take(source: BleakObservationSource, n: int) -> list[Observation]:
    out: list[Observation] = []

    async def run() -> None:
        async for obs in source:
            out.append(obs)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), timeout=10)
    return out


def test_layout_beacons_become_observations_and_strangers_are_dropped(showroom_path: Path) -> None:
    malformed = FakeAdvertisement(0.001, bytes.fromhex("0201061AFF4C000216") + bytes(21), -50)
    url = FakeAdvertisement(0.001, encode_payload(EddystoneUrl("https://x.org", -20)), -55)
    stranger = ad(9, -70, uuid="e2c56db5-dffb-48d2-b060-d0f5a71096e0", address="random-mac")
    heard: list[Heard] = []
    source = make_source(
        showroom_path,
        [ad(1, -61), stranger, malformed, url, ad(2, -75), ad(1, -62, address="BB")],
        on_heard=heard.append,
    )
    assert isinstance(source, ObservationSource)
    got = asyncio.run(take(source, 3))
    assert [(o.device_id, o.beacon_id, o.rssi_dbm) for o in got] == [
        ("laptop", "s1", -61.0),
        ("laptop", "s2", -75.0),
        ("laptop", "s1", -62.0),
    ]
    assert all(o.t_s >= 1000.0 for o in got)
    s = source.stats
    assert (s.advertisements, s.matched, s.unknown, s.malformed) == (6, 3, 2, 1)
    assert [h.beacon_id for h in heard] == ["s1", None, None, "s2", "s1"]


def test_a_vendor_frame_in_the_advertisement_keeps_its_ibeacon(showroom_path: Path) -> None:
    # A BlueCharm/KKM beacon: an Eddystone vendor frame (type 0x21) beside its iBeacon.
    vendor = bytes.fromhex("1016AAFE21010B0C1318000021FFFDFC12")
    bluecharm = FakeAdvertisement(0.001, ad(4, -58).payload + vendor, -58)
    source = make_source(showroom_path, [bluecharm, ad(1, -61)])
    got = asyncio.run(take(source, 2))
    assert [(o.beacon_id, o.rssi_dbm) for o in got] == [("s4", -58.0), ("s1", -61.0)]
    assert (source.stats.unsupported, source.stats.malformed) == (1, 0)


def test_repeated_identical_advertisements_are_all_kept(showroom_path: Path) -> None:
    source = make_source(showroom_path, [ad(3, -66) for _ in range(50)])
    got = asyncio.run(take(source, 50))
    assert len(got) == 50 and {o.beacon_id for o in got} == {"s3"}


def test_adapter_lost_mid_run_recovers_with_backoff(showroom_path: Path) -> None:
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    events: list[FakeRadioEvent] = [ad(1, -60), AdapterOutage(failed_starts=3), ad(4, -64)]
    source = make_source(showroom_path, events, sleep=fake_sleep)
    got = asyncio.run(take(source, 2))
    assert [o.beacon_id for o in got] == ["s1", "s4"]
    assert sleeps == [0.01, 0.02, 0.04]  # doubling backoff
    assert (source.stats.failed_starts, source.stats.restarts) == (3, 1)


def test_backoff_gives_up_after_max_attempts(showroom_path: Path) -> None:
    async def no_sleep(s: float) -> None:
        return None

    events: list[FakeRadioEvent] = [ad(1, -60), AdapterOutage(failed_starts=10)]
    retry = RetryPolicy(initial_s=0.01, silence_restart_s=0.05, max_attempts=3)
    source = make_source(showroom_path, events, retry=retry, sleep=no_sleep)
    with pytest.raises(ScannerError, match="not found"):
        asyncio.run(take(source, 5))
    assert source.stats.failed_starts == 3


def test_no_adapter_at_start_fails_at_once_with_next_steps(showroom_path: Path) -> None:
    source = make_source(showroom_path, [ad(1, -60)], failing_starts=1)
    with pytest.raises(ScannerError) as info:
        asyncio.run(take(source, 1))
    assert "bluetoothctl" in info.value.next_steps


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError(2, "No such file or directory"), "systemctl start bluetooth"),
        (PermissionError(13, "denied"), "bluetooth` group"),
        (BleakError("[org.freedesktop.DBus.Error.AccessDenied] nope"), "bluetooth` group"),
        (BleakError("[org.bluez.Error.NotReady] Resource Not Ready"), "bluetoothctl power on"),
        (BleakError("adapter 'hci1' not found"), "--adapter"),
        (
            BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
            "rfkill",
        ),
        (
            BleakBluetoothNotAvailableError("none", BleakBluetoothNotAvailableReason.NO_BLUETOOTH),
            "USB dongle",
        ),
    ],
)
def test_errors_are_explained(error: BaseException, words: str) -> None:
    assert words in explain_scanner_error(error).next_steps


@pytest.mark.skipif(
    Path("/run/dbus/system_bus_socket").exists(), reason="this machine has a D-Bus system bus"
)
def test_real_bluez_backend_without_dbus_gives_a_scanner_error(showroom_path: Path) -> None:
    source = BleakObservationSource(identities(showroom_path), device_id="x", clock=lambda: 0.0)
    with pytest.raises(ScannerError, match="D-Bus"):
        asyncio.run(take(source, 1))


def test_placeholder_and_impossible_rssi_are_not_observations(showroom_path: Path) -> None:
    # -127 is bleak's "BlueZ gave no RSSI"; 0 dBm and above is not a received power.
    source = make_source(showroom_path, [ad(1, -127), ad(1, 0), ad(1, 5), ad(2, -70)])
    got = asyncio.run(take(source, 1))
    assert [o.beacon_id for o in got] == ["s2"]
    assert source.stats.invalid_rssi == 3


def test_cancelling_the_reader_as_an_advertisement_arrives_ends_it(showroom_path: Path) -> None:
    """`instore scan --seconds N` cancels the reader when the time is up; an advertisement
    arriving in the same loop step must not swallow that cancel (asyncio.wait_for does, on
    Python 3.11), or the scan runs on past its end and the command never returns."""
    source = make_source(showroom_path, [ad(1, -60)], retry=RetryPolicy(silence_restart_s=60))
    got: list[Observation] = []

    async def read() -> None:
        async for obs in source:
            got.append(obs)

    async def scenario() -> bool:
        reader = asyncio.create_task(read())
        while not got:  # the script's one advertisement; the reader then waits on an empty queue
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        source._queue.put_nowait(got[0])  # the next advertisement completes the wait ...
        reader.cancel()  # ... in the very step the reader is cancelled
        done, _ = await asyncio.wait([reader], timeout=1.0)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        return reader in done and reader.cancelled()

    assert asyncio.run(scenario()), "the cancelled reader went on reading"
