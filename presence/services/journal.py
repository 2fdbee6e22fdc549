"""The two append-only logs beside a checkpoint of `instore run` (presence/services/runstate.py).

- :class:`ScanJournal`: every observation message `run` accepted, written *before* the bus
  client acknowledges it to the broker (the dispatcher acknowledges after the handler
  returned). Whatever the broker considers delivered is on disk, so a restarted run loads
  its checkpoint, replays the journal after it, and has lost nothing: a SIGKILL loses no
  observation. Records are numbered (``seq``); a checkpoint names the last one it holds.
- :class:`SentLog`: ids of the events the broker acknowledged since the last checkpoint,
  so that a restarted run replaying the journal does not publish them again.

Both are written without fsync on each append: a killed process loses nothing that its
``write`` returned (the kernel has it); only a power loss can take the unsynced tail,
which is fsynced at every checkpoint (so at most one checkpoint interval). A torn or
corrupt record ends the reading of its segment and is counted, never fatal.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["JournalRecord", "KIND_CONTROL", "KIND_SCAN", "ScanJournal", "SentLog"]

#: Record kinds: an observation message, a control message (a replay's end of stream).
KIND_SCAN = 0
KIND_CONTROL = 1
#: crc32 of the rest, seq, kind, topic bytes, payload bytes (little endian).
_HEADER = struct.Struct("<IQBHI")
_SEGMENT = re.compile(r"^scans-(\d{16})\.wal$")
_SENT = re.compile(r"^sent-(\d{16})\.log$")


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    kind: int
    topic: str
    payload: bytes


def _encode(seq: int, kind: int, topic: str, payload: bytes) -> bytes:
    t = topic.encode()
    rest = _HEADER.pack(0, seq, kind, len(t), len(payload))[4:] + t + payload
    return struct.pack("<I", zlib.crc32(rest)) + rest


class ScanJournal:
    """Numbered records in segment files ``scans-<first seq>.wal``; thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.torn = 0  # records cut short or corrupt, found while reading
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._last_seq = max((r.seq for r in self.read_after(0)), default=0)
        self.torn = 0  # counted again by the reading that restores

    def continue_after(self, seq: int) -> None:
        """Number new records above ``seq`` (a checkpoint's, whose records were deleted)."""
        with self._lock:
            self._last_seq = max(self._last_seq, seq)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def segments(self) -> list[tuple[int, Path]]:
        """(first seq, path) of every segment, oldest first."""
        found = []
        for path in self.directory.iterdir():
            m = _SEGMENT.match(path.name)
            if m:
                found.append((int(m.group(1)), path))
        return sorted(found)

    def read_after(self, seq: int) -> Iterator[JournalRecord]:
        """Records with a number above ``seq``, in order."""
        segments = self.segments()
        for i, (_first, path) in enumerate(segments):
            if i + 1 < len(segments) and segments[i + 1][0] <= seq + 1:
                continue  # every record of this segment is at or below seq
            for record in self._read_segment(path):
                if record.seq > seq:
                    yield record

    def _read_segment(self, path: Path) -> Iterator[JournalRecord]:
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            if pos + _HEADER.size > len(data):
                self.torn += 1
                return
            crc, seq, kind, n_topic, n_payload = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + n_topic + n_payload
            if end > len(data) or zlib.crc32(data[pos + 4 : end]) != crc:
                self.torn += 1
                return
            body = pos + _HEADER.size
            topic = data[body : body + n_topic].decode()
            yield JournalRecord(seq, kind, topic, data[body + n_topic : end])
            pos = end

    def append(self, kind: int, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Write the messages in one ``write``; returns their numbers."""
        with self._lock:
            if self._file is None:
                self._open_segment()
            assert self._file is not None
            first = self._last_seq + 1
            seqs = list(range(first, first + len(messages)))
            self._file.write(
                b"".join(_encode(s, kind, t, p) for s, (t, p) in zip(seqs, messages, strict=True))
            )
            if seqs:
                self._last_seq = seqs[-1]
            return seqs

    def _open_segment(self) -> None:
        # Always a new segment: an old one may end in a torn record.
        path = self.directory / f"scans-{self._last_seq + 1:016d}.wal"
        self._file = path.open("ab", buffering=0)

    def checkpointed(self, seq: int) -> None:
        """A durable checkpoint holds every record up to ``seq``: fsync the current
        segment, start a new one and delete the segments that are wholly covered."""
        with self._lock:
            if self._file is not None:
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
            segments = self.segments()
        for i, (_first, path) in enumerate(segments):
            following = segments[i + 1][0] if i + 1 < len(segments) else self._last_seq + 1
            if following <= seq + 1:
                path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete every segment (their checkpoint was set aside) and number from 1 again."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            for _first, path in self.segments():
                path.unlink(missing_ok=True)
            self._last_seq = 0

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class SentLog:
    """Event ids, one a line, appended as the broker acknowledges them, in files
    ``sent-<seq>.log`` named after the checkpoint they follow (``rotate``), so that a
    checkpoint being written in the background never loses the ids that come meanwhile."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: BinaryIO | None = None
        self._seq = max((seq for seq, _p in self._files()), default=0)

    def _files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            m = _SENT.match(path.name)
            if m:
                found.append((int(m.group(1)), path))
        return sorted(found)

    def read(self) -> set[str]:
        ids: set[str] = set()
        for _seq, path in self._files():
            lines = path.read_bytes().split(b"\n")
            # The last line may be cut short by a power loss: only whole lines count.
            ids.update(line.decode() for line in lines[:-1] if line)
        return ids

    def append(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        if self._file is None:
            self._file = (self.directory / f"sent-{self._seq:016d}.log").open("ab", buffering=0)
        self._file.write("".join(f"{i}\n" for i in ids).encode())

    def rotate(self, seq: int) -> None:
        """Ids from now on follow the checkpoint of journal record ``seq``."""
        self.close()
        self._seq = seq

    def drop_before(self, seq: int) -> None:
        """The checkpoint of ``seq`` is durable: the ids logged before it are of no use."""
        for file_seq, path in self._files():
            if file_seq < seq:
                path.unlink(missing_ok=True)

    def discard(self) -> None:
        self.close()
        for _seq, path in self._files():
            path.unlink(missing_ok=True)
        self._seq = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
