"""Tables an engine derives from its layout, kept out of its checkpoints.

Most of a checkpoint would be arrays the engine computes from the layout when it is built
(the tracker's radio maps, the zone index: ~20 MB for the fashion store) and never changes;
the state that matters (particles, visit machines) is the small rest. :class:`DerivedTables`
notes the large arrays of an engine just built, before it has seen any observation; a
checkpoint writes a reference in their place (``persistent_id``), and a restore takes the
same arrays from a freshly built engine (``persistent_load``). Both sides check a SHA-1 of
the content, so an array changed in place since (a learned table, say) is written in full,
and a freshly built engine that differs (other code, a non-deterministic build) refuses
the checkpoint instead of restoring into wrong tables.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import numpy as np

__all__ = ["DerivedTables", "MIN_SHARED_BYTES"]

#: Arrays at least this large are candidates: below it, a reference saves little.
MIN_SHARED_BYTES = 256 * 1024
_ATOMS = (str, bytes, int, float, complex, bool, type(None), type)


def _digest(array: np.ndarray) -> str:
    data = np.ascontiguousarray(array).data
    # SHA-1 here detects change, it does not defend against an attacker (the file is ours).
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def large_arrays(root: object) -> list[np.ndarray]:
    """The large numeric arrays reachable from ``root``, in a deterministic order (attribute
    and insertion order), each once."""
    seen: set[int] = set()
    found: list[np.ndarray] = []
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, _ATOMS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.nbytes >= MIN_SHARED_BYTES and obj.dtype != object:
                found.append(obj)
            continue
        children: list[object] = []
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, list | tuple):
            children = list(obj)
        elif hasattr(obj, "__self__") and hasattr(obj, "__func__"):  # a bound method
            children = [obj.__self__]
        else:
            if hasattr(obj, "__dict__"):
                children.extend(vars(obj).values())
            for cls in type(obj).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(obj, name):
                        children.append(getattr(obj, name))
        stack.extend(reversed(children))
    return found


class DerivedTables:
    """The large arrays of a freshly built engine, by identity and content."""

    def __init__(self, fresh_engine: object) -> None:
        self._arrays = large_arrays(fresh_engine)
        self._digests = [_digest(a) for a in self._arrays]
        self._index = {id(a): i for i, a in enumerate(self._arrays)}
        self.shared_bytes = sum(a.nbytes for a in self._arrays)

    def persistent_id(self, obj: Any) -> tuple[str, int, str] | None:
        """A reference for one of our arrays still as built; None: pickle it in full."""
        if type(obj) is not np.ndarray:
            return None
        i = self._index.get(id(obj))
        if i is None or self._arrays[i] is not obj:
            return None
        digest = _digest(obj)
        return ("derived", i, digest) if digest == self._digests[i] else None

    def persistent_load(self, pid: Any) -> np.ndarray:
        kind, i, digest = pid
        if kind != "derived" or not 0 <= i < len(self._arrays) or self._digests[i] != digest:
            raise pickle.UnpicklingError(
                f"derived table {i} of the checkpoint differs from this engine's"
            )
        return self._arrays[i]
