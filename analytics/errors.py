"""Errors of the ``analytics`` package.

AnalyticsError              root of everything raised here
└── RunInputError           a run directory or one of its files cannot be read as a run
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Root error of the ``analytics`` package."""


class RunInputError(AnalyticsError):
    """A run directory or a file in it cannot be used; ``path`` and ``field`` name the fault."""

    def __init__(self, path: str, field: str, message: str) -> None:
        where = f"{path}: {field}" if field else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.field = field
