"""Errors of the ``positioning`` package, drawn once here.

PositioningError            root of everything raised here (bad parameters of a locator,
│                           the engine or the tracker name the parameter and its value)
├── LayoutError             a store layout file is invalid (names file and key)
├── CalibrationError        the recordings cannot give a calibration (too few, no spread)
└── EventFormatError        a CloudEvent payload breaks the presence-event contract (names
                            the field)
"""

from __future__ import annotations

__all__ = ["CalibrationError", "EventFormatError", "LayoutError", "PositioningError"]


class PositioningError(Exception):
    """Root error of the ``positioning`` package."""


class LayoutError(PositioningError):
    """A layout is invalid. ``path`` is the file (or "<layout>"), ``key`` the offending key path."""

    def __init__(self, path: str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key
        self.reason = message


class CalibrationError(PositioningError):
    """The data cannot give a calibration (too few samples, no spread of distances...)."""


class EventFormatError(PositioningError):
    """A CloudEvent payload does not follow the presence-event contract; ``field`` names the part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
