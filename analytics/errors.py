"""Errors of the ``analytics`` package.

AnalyticsError              root of everything raised here
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Root error of the ``analytics`` package."""
