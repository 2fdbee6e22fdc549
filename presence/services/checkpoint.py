"""Checkpoint files of `instore run`: one store's tracking state, versioned, written atomically.

A checkpoint is three parts in one file::

    INSTORE-RUN-CHECKPOINT\\n        magic line
    {"format_version": 1, ...}\\n    one JSON header line (what the state belongs to)
    <body>                          the state: a pickle of the engine and its companions

The body is a pickle because the engine's state is a graph of numpy arrays and small
objects across a dozen classes (particles, filters, visit machines); a hand-made format
would have to follow every change of ``positioning``. What makes a pickle safe to keep
across restarts is the header, checked *before* the body is unpickled:

- ``format_version``: the layout of this file and of the body's dict;
- ``code``: a digest of the source of the packages whose objects the body holds
  (``beacons``, ``positioning``) and of the Python and numpy versions. A deploy that
  changes any of them refuses the old checkpoint cleanly instead of unpickling objects
  into classes that changed shape;
- ``config``: store, layout digest, locator, seed and engine parameters: a checkpoint of
  another store or configuration is never restored;
- ``body_sha256`` and ``body_bytes``: a torn or corrupt file is detected, not unpickled.

A checkpoint that fails any check is *set aside* (renamed ``*.rejected-<time>``, kept for
a post-mortem) and the run starts empty: never a crash. The file is only ever read from
the worker's own state directory; like the code itself, it must not be writable by others
(a pickle from an untrusted source can run code).

Writing is atomic: a temporary file in the same directory, flushed and fsynced, renamed
over the old checkpoint, then the directory fsynced, so a kill or power loss at any
moment leaves either the old or the new checkpoint whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from presence.errors import PresenceError

__all__ = [
    "CHECKPOINT_MAGIC",
    "CheckpointError",
    "code_fingerprint",
    "FORMAT_VERSION",
    "read_checkpoint",
    "set_aside",
    "write_atomic",
    "write_checkpoint",
]

CHECKPOINT_MAGIC = b"INSTORE-RUN-CHECKPOINT\n"
#: Version of the file layout and of the body's dict; bump on any change of either.
FORMAT_VERSION = 1
#: Packages whose objects a checkpoint body holds: their source decides whether it can be read.
STATE_PACKAGES = ("beacons", "positioning")
#: A header line longer than this is not ours (the real one is ~500 bytes).
MAX_HEADER_BYTES = 64 * 1024


class CheckpointError(PresenceError):
    """A checkpoint that cannot be restored: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Checkpoint:
    header: dict[str, Any]
    body: bytes


def code_fingerprint() -> str:
    """Digest of the code that defines a checkpoint body's objects (see the module docstring)."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION}|{sys.version_info[:2]}|{np.__version__}".encode())
    for package in STATE_PACKAGES:
        root = Path(sys.modules[package].__path__[0]) if package in sys.modules else None
        if root is None:
            root = Path(__import__(package).__path__[0])
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root.parent).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:32]


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file whole."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a power loss
    finally:
        os.close(fd)


def write_checkpoint(path: Path, header: dict[str, Any], body: bytes) -> int:
    """Write a checkpoint atomically; returns its size in bytes."""
    full = {
        **header,
        "format_version": FORMAT_VERSION,
        "body_bytes": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    data = CHECKPOINT_MAGIC + json.dumps(full, sort_keys=True).encode() + b"\n" + body
    write_atomic(path, data)
    return len(data)


def read_checkpoint(path: Path, expected: dict[str, Any]) -> Checkpoint:
    """Read and check a checkpoint; every key of ``expected`` must match the header.

    Raises CheckpointError naming the file and the first thing that is wrong."""
    data = path.read_bytes()
    if not data.startswith(CHECKPOINT_MAGIC):
        raise CheckpointError(path, "not an instore run checkpoint (no magic line)")
    start = len(CHECKPOINT_MAGIC)
    end = data.find(b"\n", start, start + MAX_HEADER_BYTES)
    if end < 0:
        raise CheckpointError(path, "header line missing or too long")
    try:
        header = json.loads(data[start:end])
    except ValueError as e:
        raise CheckpointError(path, f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "header is not a JSON object")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"format_version {version!r}, this code reads {FORMAT_VERSION}")
    for key, want in expected.items():
        if header.get(key) != want:
            raise CheckpointError(
                path, f"header field {key!r} is {header.get(key)!r}, this run has {want!r}"
            )
    body = data[end + 1 :]
    if len(body) != header.get("body_bytes"):
        raise CheckpointError(
            path, f"body has {len(body)} bytes, header says {header.get('body_bytes')!r}"
        )
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise CheckpointError(path, "body checksum mismatch (corrupt file)")
    return Checkpoint(header, body)


def set_aside(path: Path, wall_time_s: float) -> Path:
    """Rename a checkpoint that cannot be used, so it is kept for a look but never read again."""
    target = path.with_name(f"{path.name}.rejected-{int(wall_time_s)}")
    os.replace(path, target)
    return target
