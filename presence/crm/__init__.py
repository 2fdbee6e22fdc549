"""The CRM: customers, pseudonymous device links, consent ledger, purchases, orders,
the welcome outbox and decision log. Open it with :class:`presence.crm.store.CrmStore`."""

__all__: list[str] = []  # the modules are the public surface
