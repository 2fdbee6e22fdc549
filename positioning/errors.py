"""Errors of the ``positioning`` package.

PositioningError            root of everything raised here
└── LayoutError             a store layout file is invalid (names file and key)
"""

from __future__ import annotations


class PositioningError(Exception):
    """Root error of the ``positioning`` package."""


class LayoutError(PositioningError):
    """A layout is invalid. ``path`` is the file (or "<layout>"), ``key`` the offending key path."""

    def __init__(self, path: str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key
        self.reason = message
