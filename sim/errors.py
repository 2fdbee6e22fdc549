"""Errors of the ``sim`` package.

SimError                    root of everything raised here
├── ObservationLogError     an observation log cannot be read at all (names the file)
└── RunFolderError          a run folder lacks a table, a column or readable metadata
"""

from __future__ import annotations

__all__ = ["ObservationLogError", "RunFolderError", "SimError"]


class SimError(Exception):
    """Root error of the ``sim`` package."""


class ObservationLogError(SimError):
    """An observation log file cannot be used at all (missing, unreadable, no usable columns)."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f":{line}" if line is not None else ""
        super().__init__(f"{path}{where}: {message}")
        self.path = path
        self.line = line


class RunFolderError(SimError):
    """A simulation or locate folder cannot be scored: a table, column or metadata is missing."""
