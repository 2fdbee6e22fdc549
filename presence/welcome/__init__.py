"""Welcome messages: a pure policy (:mod:`.policy`), texts (:mod:`.templates`) and the
exactly-once service on the bus (:mod:`.service`)."""

__all__: list[str] = []  # the modules are the public surface
