"""The services wing: long-running processes on the bus (live engine, replay, scanning,
ESPresense relay, archive, staff lookup) and the library code behind their commands."""

__all__: list[str] = []  # the modules are the public surface
