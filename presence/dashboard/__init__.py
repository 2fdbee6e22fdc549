"""The staff dashboard: a live state model fed from the bus, served as a static page plus SSE."""

__all__: list[str] = []  # the modules are the public surface
