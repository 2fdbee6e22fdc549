"""Errors of the CRM.

PresenceError
└── CrmError                 the CRM database cannot be used as asked
    ├── CrmUrlError          the --crm URL is not a database we can open
    └── UnknownCustomerError a customer id that is not in the CRM
"""

from __future__ import annotations

from presence.errors import PresenceError

__all__ = ["CrmError", "CrmUrlError", "UnknownCustomerError"]


class CrmError(PresenceError):
    """Root error of :mod:`presence.crm`."""


class CrmUrlError(CrmError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"--crm {url!r}: {reason}")
        self.url = url


class UnknownCustomerError(CrmError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id!r} is not in the CRM")
        self.customer_id = customer_id
