"""One module per ``instore`` subcommand.

Each module defines ``register(subparsers)`` which adds its parser and sets
``func=run`` (a callable taking the parsed args and returning an exit code). The CLI
discovers every module in this package, so adding a command never edits a shared file.
"""

__all__: list[str] = []  # the modules are the public surface
