"""Errors of the ``beacons`` package.

BeaconsError                 root of everything raised here
└── AdvertisementError       a frame claims a beacon format but its bytes are wrong
"""

from __future__ import annotations


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
        self.data = data
        self.offset = offset
