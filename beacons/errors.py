"""Errors of the ``beacons`` package.

BeaconsError                 root of everything raised here
├── AdvertisementError       a frame claims a beacon format but its bytes are wrong
│   └── UnsupportedFrameError  a known family's frame of a type we do not read (vendor frames)
└── ScannerError             the Bluetooth adapter cannot be used (with next steps)
"""

from __future__ import annotations

__all__ = ["AdvertisementError", "BeaconsError", "ScannerError", "UnsupportedFrameError"]


class BeaconsError(Exception):
    """Root error of the ``beacons`` package."""


class AdvertisementError(BeaconsError):
    """A frame that claims a beacon format is malformed.

    ``offset`` is the byte offset at fault within the payload, ``data`` the bytes.
    """

    def __init__(self, message: str, *, data: bytes = b"", offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        shown = f" (bytes {data.hex().upper()})" if data else ""
        super().__init__(f"{message}{where}{shown}")
        self.reason = message
        self.data = data
        self.offset = offset


class UnsupportedFrameError(AdvertisementError):
    """A frame of a family we know (Eddystone) with a type we do not read.

    Not a fault of the beacon: BlueCharm and KKM send an Eddystone vendor frame (type 0x21)
    beside their iBeacon, and newer frame types appear. Reported, never fatal to the rest.
    """


class ScannerError(BeaconsError):
    """Scanning cannot start or continue. ``next_steps`` says what the user can do about it."""

    def __init__(self, problem: str, next_steps: str) -> None:
        super().__init__(f"{problem}. Next steps: {next_steps}")
        self.problem = problem
        self.next_steps = next_steps
