"""The error tree drawn in presence/errors.py names every error class of the package."""

from __future__ import annotations

import importlib
import pkgutil

import presence
import presence.errors
from presence.errors import PresenceError


def test_every_presence_error_is_drawn_in_the_tree() -> None:
    for info in pkgutil.walk_packages(presence.__path__, "presence."):
        importlib.import_module(info.name)
    seen: set[str] = set()
    todo = [PresenceError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo.extend(c for c in cls.__subclasses__() if c.__module__.startswith("presence."))
    tree = presence.errors.__doc__ or ""
    assert {name for name in seen if name not in tree} == set()
