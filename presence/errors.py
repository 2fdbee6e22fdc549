"""Errors of the ``presence`` package.

PresenceError               root of everything raised here
└── UsageError              a command was called with arguments that cannot work
"""

from __future__ import annotations


class PresenceError(Exception):
    """Root error of the ``presence`` package."""


class UsageError(PresenceError):
    """Arguments that cannot work together or name something that does not exist."""
