"""Live BLE scanning with bleak: with its fake radio (beacons.fakeradio), the only module
of instore that imports bleak.

``BleakObservationSource`` runs a ``bleak.BleakScanner`` with a detection callback,
turns every advertisement of a layout beacon into an :class:`Observation` (device =
this scanner, beacon = the layout id matched by advertised identifiers) and yields
them. Nothing is de-duplicated: bleak sets BlueZ's ``DuplicateData`` discovery filter
to False by default (bleak/args/bluez.py) and we pass it explicitly, so every
advertisement reaches the callback. The MAC address is never read.

Failures become :class:`~beacons.errors.ScannerError` with next steps. If the adapter
goes away mid-run (USB dongle unplugged, bluetoothd restarted), scanning restarts with
exponential backoff; silence longer than ``silence_restart_s`` also triggers a restart,
because BlueZ does not always tell a scanner that its adapter vanished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakError

from beacons.errors import ScannerError
from beacons.frames import BeaconFrame, read_frames
from beacons.identity import BeaconIdentities
from beacons.observation import Observation, rssi_is_valid

__all__ = [
    "BLEAK_NO_RSSI_DBM",
    "BleakObservationSource",
    "DBUS_STEPS",
    "explain_scanner_error",
    "Heard",
    "NO_ADAPTER_STEPS",
    "PERMISSION_STEPS",
    "POWER_STEPS",
    "QUEUE_MAX_ROWS",
    "RetryPolicy",
    "ScannerState",
    "ScanStats",
]

log = logging.getLogger(__name__)

#: Observations buffered between the bleak callback and the consumer; beyond this the
#: consumer is too slow and rows are counted as dropped rather than growing memory.
QUEUE_MAX_ROWS = 100_000
#: What bleak's BlueZ backend reports when BlueZ gives no RSSI (``props.get("RSSI", -127)``
#: in bleak/backends/bluezdbus/scanner.py): a placeholder, not a measurement.
BLEAK_NO_RSSI_DBM = -127

NO_ADAPTER_STEPS = (
    "plug in a Bluetooth LE adapter (a USB dongle works), check `bluetoothctl list` shows it, "
    "or name it with --adapter hci1"
)
POWER_STEPS = (
    "turn Bluetooth on: `bluetoothctl power on`, and `rfkill unblock bluetooth` if it is blocked"
)
PERMISSION_STEPS = (
    "allow this user to scan: on Linux add it to the `bluetooth` group "
    "(`sudo usermod -aG bluetooth $USER`, then log in again) or run from a session with BlueZ "
    "D-Bus access; on macOS grant Bluetooth to the terminal in System Settings > Privacy"
)
DBUS_STEPS = (
    "start the Bluetooth service (`sudo systemctl start bluetooth`); in a container mount "
    "/run/dbus from the host and run with --net=host"
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for restarting after the adapter went away: initial, doubling up to max."""

    initial_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0
    max_attempts: int | None = None  # None: keep trying while the process runs
    silence_restart_s: float = 15.0

    def delay_s(self, attempt: int) -> float:
        return float(min(self.max_s, self.initial_s * self.factor**attempt))


@dataclass(slots=True)
class ScanStats:
    """Counters of what the scanner saw (a mutable tally, read by the commands)."""

    advertisements: int = 0
    matched: int = 0
    unknown: int = 0
    malformed: int = 0  # data entries claiming a beacon format with wrong bytes
    unsupported: int = 0  # entries of a known family in a type we do not read (vendor frames)
    invalid_rssi: int = 0
    dropped: int = 0
    restarts: int = 0
    failed_starts: int = 0


@dataclass(frozen=True, slots=True)
class ScannerState:
    """What the adapter is doing, for a status display.

    ``adapter`` is "scanning" (started; advertisements may or may not come) or "lost" (a
    restart failed: the adapter went away). ``since_s`` is when that began on the
    scanner's clock: for "lost", the last advertisement heard before the silence (when
    the adapter really went quiet), else the failed start. ``last_heard_s`` is the last
    beacon advertisement heard, None before the first. ``problem`` and
    ``next_steps`` explain a "lost" adapter.
    """

    adapter: str
    since_s: float
    last_heard_s: float | None = None
    problem: str = ""
    next_steps: str = ""


@dataclass(frozen=True, slots=True)
class Heard:
    """A beacon frame heard at ``t_s``; ``beacon_id`` is None when it is not in the layout."""

    t_s: float
    frame: BeaconFrame
    rssi_dbm: float
    beacon_id: str | None


def explain_scanner_error(error: BaseException, adapter: str | None = None) -> ScannerError:
    """Turn whatever bleak, D-Bus or the OS raised into a ScannerError with next steps."""
    name = adapter or "the default adapter"
    text = str(error)
    if isinstance(error, BleakBluetoothNotAvailableError):
        reason = error.reason
        if reason is BleakBluetoothNotAvailableReason.POWERED_OFF:
            return ScannerError(f"Bluetooth is powered off ({text})", POWER_STEPS)
        if reason in (
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        ):
            return ScannerError(f"no permission to use Bluetooth ({text})", PERMISSION_STEPS)
        return ScannerError(f"no usable Bluetooth LE adapter ({text})", NO_ADAPTER_STEPS)
    if isinstance(error, FileNotFoundError | ConnectionRefusedError):
        return ScannerError(f"the D-Bus system bus is not reachable ({error!r})", DBUS_STEPS)
    if isinstance(error, PermissionError) or any(
        k in text for k in ("AccessDenied", "NotPermitted", "NotAuthorized", "permission")
    ):
        return ScannerError(f"no permission to use Bluetooth ({text})", PERMISSION_STEPS)
    if "NotReady" in text or "powered off" in text.lower():
        return ScannerError(f"{name} is not ready ({text})", POWER_STEPS)
    if "not found" in text or "No Bluetooth adapters" in text:
        return ScannerError(f"{name} was not found ({text})", NO_ADAPTER_STEPS)
    if isinstance(error, BleakError):
        return ScannerError(f"Bluetooth scanning failed ({text})", NO_ADAPTER_STEPS)
    return ScannerError(f"Bluetooth scanning failed ({error!r})", DBUS_STEPS)


class BleakObservationSource:
    """An :class:`~beacons.source.ObservationSource` over a live BLE adapter.

    ``clock`` gives the epoch time stamped on each advertisement (the caller owns the
    wall clock); ``on_heard`` sees every beacon frame, including ones not in the layout
    (for setup tables; those are never turned into observations or stored).
    ``backend`` replaces bleak's platform backend (tests and demos: see :func:`fake_backend`).
    ``on_state`` sees every change of :class:`ScannerState` (scanning, adapter lost).
    """

    def __init__(
        self,
        identities: BeaconIdentities,
        *,
        device_id: str,
        clock: Callable[[], float],
        adapter: str | None = None,
        backend: type[BaseBleakScanner] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        on_heard: Callable[[Heard], None] | None = None,
        on_state: Callable[[ScannerState], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.identities = identities
        self.device_id = device_id
        self.backend = backend
        self.stats = ScanStats()
        self.clock = clock
        self._clock = clock
        self._adapter = adapter
        self._backend = backend
        self._retry = retry
        self._on_heard = on_heard
        self._state_listeners = [on_state] if on_state is not None else []
        self._sleep = sleep
        self.state: ScannerState | None = None
        self._last_heard_s: float | None = None
        self._queue: asyncio.Queue[Observation] = asyncio.Queue(QUEUE_MAX_ROWS)

    def _make_scanner(self) -> BleakScanner:
        bluez: dict[str, Any] = {"filters": {"DuplicateData": False}}
        if self._adapter:
            bluez["adapter"] = self._adapter
        return BleakScanner(self._on_advertisement, bluez=bluez, backend=self._backend)  # type: ignore[arg-type]

    def _on_advertisement(self, device: BLEDevice, adv: AdvertisementData) -> None:
        """bleak's detection callback: runs once per advertisement received."""
        self.stats.advertisements += 1
        reading = read_frames(adv.manufacturer_data, adv.service_data)
        for skipped in reading.skipped:
            if skipped.malformed:
                self.stats.malformed += 1
            else:
                self.stats.unsupported += 1
            log.debug("%s skipped: %s", skipped.where, skipped.reason)
        frames = reading.frames
        if not frames:
            return
        if adv.rssi == BLEAK_NO_RSSI_DBM or not rssi_is_valid(adv.rssi):
            self.stats.invalid_rssi += 1
            return
        t_s = self._clock()
        self._last_heard_s = t_s
        for frame in frames:
            match = self.identities.match(frame)
            if self._on_heard is not None:
                self._on_heard(
                    Heard(t_s, frame, float(adv.rssi), match.beacon_id if match else None)
                )
            if match is None:
                self.stats.unknown += 1
                continue
            self.stats.matched += 1
            try:
                self._queue.put_nowait(
                    Observation(t_s, self.device_id, match.beacon_id, float(adv.rssi))
                )
            except asyncio.QueueFull:
                self.stats.dropped += 1

    @property
    def last_heard_s(self) -> float | None:
        """When the last beacon advertisement was heard (scanner's clock); None before any."""
        return self._last_heard_s

    def _set_state(self, state: ScannerState) -> None:
        if self.state is not None and state.adapter == self.state.adapter:
            return  # "since" stays the start of the state, not its latest confirmation
        self.state = state
        for listener in self._state_listeners:
            listener(state)

    def watch_state(self, listener: Callable[[ScannerState], None]) -> None:
        """Call ``listener`` on every later change of :attr:`state`, like ``on_state``."""
        self._state_listeners.append(listener)

    async def probe(self) -> None:
        """Start and stop scanning once: raises :class:`ScannerError` (with next steps) now,
        before a caller starts anything else, if the adapter is missing or refuses."""
        scanner = self._make_scanner()
        try:
            await scanner.start()
        except Exception as e:
            self.stats.failed_starts += 1
            raise explain_scanner_error(e, self._adapter) from e
        await _stop_quietly(scanner)

    async def _start(self, attempt: int, ever_started: bool) -> BleakScanner | None:
        """Start a scanner; None after a failed restart that should be retried."""
        scanner = self._make_scanner()
        try:
            await scanner.start()
            self._set_state(ScannerState("scanning", self._clock(), self._last_heard_s))
            return scanner
        except Exception as e:
            err = explain_scanner_error(e, self._adapter)
            self.stats.failed_starts += 1
            limit = self._retry.max_attempts
            if not ever_started or (limit is not None and attempt + 1 >= limit):
                raise err from e
            since = self._last_heard_s if self._last_heard_s is not None else self._clock()
            self._set_state(
                ScannerState("lost", since, self._last_heard_s, err.problem, err.next_steps)
            )
            delay = self._retry.delay_s(attempt)
            log.warning("scanner restart failed (%s); retrying in %.1f s", err.problem, delay)
            await self._sleep(delay)
            return None

    async def __aiter__(self) -> AsyncIterator[Observation]:
        attempt, ever_started = 0, False
        while True:
            scanner = await self._start(attempt, ever_started)
            if scanner is None:
                attempt += 1
                continue
            if ever_started:
                self.stats.restarts += 1
            ever_started, attempt = True, 0
            try:
                while True:
                    try:
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                        # cancel that comes as the queue hands over an item, and the scan
                        # would run on past its end.
                        async with asyncio.timeout(self._retry.silence_restart_s):
                            obs = await self._queue.get()
                    except TimeoutError:
                        log.info(
                            "no advertisement for %.0f s: restarting the scan",
                            self._retry.silence_restart_s,
                        )
                        break
                    yield obs
            finally:
                await _stop_quietly(scanner)


async def _stop_quietly(scanner: BleakScanner) -> None:
    try:
        await scanner.stop()
    except Exception as e:  # the adapter may already be gone; stopping is best effort
        log.debug("stopping the scanner failed: %r", e)
