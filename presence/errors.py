"""Errors of the ``presence`` package, drawn once here (each is defined beside its concept).

PresenceError                root of everything raised here
├── UsageError               a command was called with arguments that cannot work
├── BusError                 the broker refused us, did not answer or did not acknowledge
│                            (transport/busconfig.py)
├── BrokerError              the embedded broker could not start (transport/broker.py)
├── AccessError              an access list line cannot be read (transport/access.py)
├── CredentialsError         a password file line cannot be used (transport/credentials.py)
├── CheckpointError          a run's checkpoint cannot be restored; it is set aside
│                            (services/checkpoint.py)
├── TopicError               a store, device or event type cannot be a topic level
│                            (transport/topics.py)
├── PayloadError             a bus message cannot be used; ``reason`` names why, and the
│                            message is dead-lettered (transport/payloads.py)
└── CrmError                 the CRM database cannot be used as asked (crm/errors.py)
    ├── CrmUrlError          the --crm URL is not a database we can open
    └── UnknownCustomerError a customer id that is not in the CRM
"""

from __future__ import annotations

__all__ = ["PresenceError", "UsageError"]


class PresenceError(Exception):
    """Root error of the ``presence`` package."""


class UsageError(PresenceError):
    """Arguments that cannot work together or name something that does not exist."""
