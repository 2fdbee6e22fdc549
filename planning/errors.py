"""The planning package's one root error."""

from __future__ import annotations

__all__ = ["PlanningError"]


class PlanningError(Exception):
    """A plan that cannot be made as asked; the message names the option or file at fault."""
