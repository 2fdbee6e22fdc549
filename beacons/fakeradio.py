"""A fake Bluetooth radio for bleak: scripted advertisements played through bleak's own
``BleakScanner`` callback path, so the real scanner code runs without hardware.

``FakeAdvertisement``/``AdapterOutage`` script what the fake adapter hears;
:func:`load_fake_advertisements` reads such a script from JSON lines (``instore scan
--fake-advertisements``, docs/beacons.md) and :func:`fake_backend` is the bleak backend
class that plays it. Product code (the demo, ``--fake-advertisements``) uses it, so it lives
here and not in ``beacons.testing``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from beacons.adstructures import fields_of, parse_hex
from beacons.errors import BeaconsError
from beacons.frames import BASE_UUID_SUFFIX

__all__ = [
    "AdapterOutage",
    "FakeAdvertisement",
    "FakeBleakBackend",
    "FakeRadioEvent",
    "fake_backend",
    "load_fake_advertisements",
]


@dataclass(frozen=True, slots=True)
class FakeAdvertisement:
    """One advertisement a fake radio hears ``delay_s`` after the previous one.

    ``payload`` is the raw AD structures as broadcast, ``rssi_dbm`` the received power.
    ``address`` is what an OS would report; instore never reads it.
    """

    delay_s: float
    payload: bytes
    rssi_dbm: int
    address: str = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class AdapterOutage:
    """The adapter disappears silently here; the next ``failed_starts`` starts fail."""

    failed_starts: int = 1


FakeRadioEvent = FakeAdvertisement | AdapterOutage


def load_fake_advertisements(path: str | Path) -> list[FakeRadioEvent]:
    """Read a JSON-lines script for the fake radio (testing and demos without hardware).

    Each line is ``{"dt_s": 0.1, "payload": "0201061AFF4C00...", "rssi": -63}`` or
    ``{"adapter_outage": 2}``. Blank lines and lines starting with ``#`` are skipped.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BeaconsError(
            f"{p}: cannot read the fake advertisement script: {e.strerror or e}"
        ) from e
    events: list[FakeRadioEvent] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
            if "adapter_outage" in row:
                events.append(AdapterOutage(int(row["adapter_outage"])))
            else:
                events.append(
                    FakeAdvertisement(
                        float(row.get("dt_s", 0.0)),
                        parse_hex(str(row["payload"])),
                        int(row["rssi"]),
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError, BeaconsError) as e:
            raise BeaconsError(
                f"{p}, line {n}: not a fake advertisement ({e}): {line[:80]!r}"
            ) from e
    return events


def fake_backend(
    events: list[FakeRadioEvent], *, failing_starts: int = 0, speed: float = 1.0
) -> type[FakeBleakBackend]:
    """A bleak backend class that plays a scripted radio through bleak's callback path.

    Pass it as ``BleakScanner(backend=...)``. Advertisements are emitted with
    ``create_or_update_device`` + ``call_detection_callbacks`` exactly as bleak's BlueZ
    backend does. An :class:`AdapterOutage` silences the radio and makes the next
    starts fail with the BleakError BlueZ gives for a missing adapter; outages at the
    head of the script (before any advertisement) mean no adapter from the start, so
    the first starts fail. Playback resumes where it stopped when scanning restarts.
    ``failing_starts`` adds first starts that fail as if no adapter were plugged in.
    ``speed`` plays the waits ``speed`` times faster (demos and tests of long scripts).
    The class's ``radio.finished`` tells when the whole script has been played.
    """
    if not speed > 0:
        raise BeaconsError(f"fake radio speed must be positive, got {speed}")
    script = list(events)
    while script and isinstance(head := script[0], AdapterOutage):
        failing_starts += head.failed_starts
        script.pop(0)
    state = _FakeRadioState(script, failing_starts=failing_starts, speed=speed)
    return type("FakeBleakBackend", (FakeBleakBackend,), {"radio": state})


class FakeBleakBackend(BaseBleakScanner):
    """A bleak backend playing ``radio`` (bound per script by :func:`fake_backend`)."""

    radio: _FakeRadioState

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.radio.starts += 1
        if self.radio.failing_starts > 0:
            self.radio.failing_starts -= 1
            raise BleakError("adapter 'hci0' not found")
        self.seen_devices = {}
        self._task = asyncio.create_task(self.radio.play(self))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def emit(self, payload: bytes, rssi_dbm: int, address: str) -> None:
        """Deliver one advertisement the way bleak's BlueZ backend does."""
        try:
            f = fields_of(payload)
        except BeaconsError:
            return  # the OS drops payloads whose AD structures do not parse
        adv = AdvertisementData(
            local_name=f.local_name,
            manufacturer_data=dict(f.manufacturer_data),
            service_data={f"0000{k:04x}{BASE_UUID_SUFFIX}": v for k, v in f.service_data.items()},
            service_uuids=[f"0000{u:04x}{BASE_UUID_SUFFIX}" for u in f.service_uuids],
            tx_power=f.tx_power_dbm,
            rssi=rssi_dbm,
            platform_data=(),
        )
        device = self.create_or_update_device(address, address, f.local_name, None, adv)
        self.call_detection_callbacks(device, adv)


@dataclass(slots=True)
class _FakeRadioState:
    events: list[FakeRadioEvent]
    position: int = 0
    starts: int = 0
    failing_starts: int = 0
    speed: float = 1.0
    due_s: float | None = None  # monotonic time the next advertisement is due

    @property
    def finished(self) -> bool:
        """True once every event of the script has been played."""
        return self.position >= len(self.events)

    async def play(self, backend: FakeBleakBackend) -> None:
        while self.position < len(self.events):
            event = self.events[self.position]
            if isinstance(event, AdapterOutage):
                self.position += 1
                self.due_s = None
                self.failing_starts = event.failed_starts
                return  # silent from here on, like an unplugged dongle
            # The air keeps its own time: a scan stopped and restarted mid-wait (the
            # scanner's silence restart) hears this advertisement when it was due, not a
            # whole wait later, and counts it only once delivered.
            if self.due_s is None:
                self.due_s = time.monotonic() + event.delay_s / self.speed
            await asyncio.sleep(max(0.0, self.due_s - time.monotonic()))
            self.position += 1
            self.due_s = None
            backend.emit(event.payload, event.rssi_dbm, event.address)
