"""The demo wing: ``instore demo`` (run), its store and beacon set-up, and its summary."""

__all__: list[str] = []  # the modules are the public surface
