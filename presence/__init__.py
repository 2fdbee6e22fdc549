"""The live system: bus, engine wiring, CRM, consent, welcome service, dashboard and the ``instore`` CLI."""

from presence.errors import PresenceError

__all__ = ["PresenceError"]
