"""The demo wing: ``instore demo`` (run), its store and beacon set-up, and its summary."""
