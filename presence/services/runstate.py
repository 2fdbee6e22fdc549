"""Where one store's tracking state lives between two `instore run` processes.

A store's state directory holds::

    lock                     flock'ed by the run that owns the store (a second one is refused)
    checkpoint               the engine, dedup memory and unconfirmed events (checkpoint.py)
    scans-<seq>.wal          observations accepted since (journal.py): replayed on restart
    sent-<seq>.log           ids of events the broker acknowledged since the checkpoint

Restoring is: read the checkpoint (set aside if it cannot be used: the run starts empty),
then replay the journal after it through the same engine, publishing only the events
whose ids are not in the sent logs. The engine is deterministic and indifferent to how its
input is chunked, so the replay re-derives exactly the events of the uninterrupted run.

The directory is keyed by broker address, client id and store (``state_dir_for``): the
journal continues the broker session of that client id, which holds what came after it.
Moving a store to another worker means moving this directory with the client id
(docs/scale.md).
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pickle
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from presence.errors import UsageError
from presence.services.checkpoint import (
    CheckpointError,
    code_fingerprint,
    read_checkpoint,
    set_aside,
    write_checkpoint,
)
from presence.services.derived import DerivedTables
from presence.services.journal import JournalRecord, ScanJournal, SentLog

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY_S",
    "DEFAULT_MAX_AGE_S",
    "default_state_root",
    "Restored",
    "state_dir_for",
    "StoreState",
]

log = logging.getLogger(__name__)

#: Wall-clock seconds between checkpoints. Bounds the journal a restart replays (~5 s of
#: observations: well under a second of engine time at live rates) and what a power loss
#: can take; a checkpoint costs ~5 ms of pickling plus an fsync of ~4 MB per store.
DEFAULT_CHECKPOINT_EVERY_S = 5.0
#: A checkpoint older than this is set aside: the broker session it continues has expired
#: (BusConfig.session_expiry_s, one hour), so what followed it is gone, and its tracks are
#: of no use to a stream that restarts elsewhere in time.
DEFAULT_MAX_AGE_S = 3600.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_state_root() -> Path:
    """``$INSTORE_STATE_DIR``, else ``$XDG_STATE_HOME/instore/run``, else ``~/.local/state/...``."""
    if os.environ.get("INSTORE_STATE_DIR"):
        return Path(os.environ["INSTORE_STATE_DIR"])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "instore" / "run"


def state_dir_for(root: Path, broker: str, client_id: str, store: str) -> Path:
    """``root/<broker host_port>/<client id>/<store>``, each level made filename-safe."""
    return root / _UNSAFE.sub("_", broker) / _UNSAFE.sub("_", client_id) / _UNSAFE.sub("_", store)


@dataclass
class Restored:
    """What a checkpoint and its journal give back to a store's engine."""

    state: dict[str, Any] | None  # the checkpoint body's dict; None: start empty
    seq: int  # last journal record the state holds
    records: list[JournalRecord]  # journal after the checkpoint, in order
    sent: set[str]  # ids the broker acknowledged since the checkpoint
    notes: list[str] = field(default_factory=list)  # what was restored or set aside, for people


class StoreState:
    """A store's state directory: lock, checkpoint, scan journal and sent log."""

    def __init__(
        self,
        directory: Path,
        config: dict[str, Any],
        *,
        every_s: float = DEFAULT_CHECKPOINT_EVERY_S,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        """``config`` identifies the engine (store, layout digest, locator, seed, params):
        a checkpoint with another is refused. ``clock`` paces checkpoints (monotonic);
        ``wall_clock`` dates them."""
        self.directory = directory
        self.every_s = every_s
        self.max_age_s = max_age_s
        self._expected = {"config": config, "code": code_fingerprint()}
        self._clock = clock
        self._wall_clock = wall_clock
        self._next_s = clock() + every_s
        self._written_s = clock()  # when the last checkpoint was taken (monotonic)
        self.checkpoint_path = directory / "checkpoint"
        self.stats: dict[str, float] = {
            "checkpoints": 0,
            "checkpoint_bytes": 0,  # size of the last one
            "pickle_max_s": 0.0,  # longest pickling (the engine waits for it), seconds
            "write_max_s": 0.0,  # longest write + fsync (on the writer thread), seconds
            "checkpoint_errors": 0,
            "restored_records": 0,
        }
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock()
        self.journal = ScanJournal(directory)
        self.sent = SentLog(directory)
        self._writing: threading.Thread | None = None

    def _lock(self) -> BinaryIO:
        f = (self.directory / "lock").open("a+b")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise UsageError(
                f"state directory {self.directory} is in use by another instore run "
                "(same broker, client id and store); give each worker its own --client-id"
            ) from None
        return f

    def restore(self, tables: DerivedTables) -> Restored:
        """The checkpoint's state and the journal after it; a checkpoint that cannot be used
        is set aside (with its journal and sent log) and the store starts empty."""
        notes: list[str] = []
        if not self.checkpoint_path.exists():
            first = self.journal.segments()[:1]
            if first and first[0][0] != 1:  # the journal continues a checkpoint we lack
                notes.append(f"{self.directory}: journal without its checkpoint, discarded")
                self._discard()
            records = list(self.journal.read_after(0))
            return Restored(None, 0, records, self.sent.read(), notes)
        try:
            ckpt = read_checkpoint(self.checkpoint_path, self._expected)
            age_s = self._wall_clock() - float(ckpt.header.get("written_at_s", 0.0))
            if age_s > self.max_age_s:
                raise CheckpointError(
                    self.checkpoint_path,
                    f"written {age_s:.0f} s ago, older than {self.max_age_s:.0f} s",
                )
            seq = int(ckpt.header["journal_seq"])
            unpickler = pickle.Unpickler(io.BytesIO(ckpt.body))
            unpickler.persistent_load = tables.persistent_load  # type: ignore[method-assign]
            state = unpickler.load()
            if (
                not isinstance(state, dict)
                or not {"engine", "seen", "unconfirmed"} <= set(state)
                or not isinstance(state["seen"], bytes)
            ):
                raise CheckpointError(self.checkpoint_path, "body is not a run state")
            pickle.loads(state["seen"])  # readable now, not halfway through the restore
        except Exception as e:  # any unreadable checkpoint: set aside, start empty, never crash
            aside = set_aside(self.checkpoint_path, self._wall_clock())
            notes.append(f"checkpoint set aside as {aside.name}: {e}")
            self._discard()
            return Restored(None, 0, [], set(), notes)
        self.journal.continue_after(seq)
        records = list(self.journal.read_after(seq))
        if self.journal.torn:
            notes.append(f"{self.journal.torn} torn journal record(s) ignored")
        self.stats["restored_records"] = len(records)
        written = datetime.fromtimestamp(float(ckpt.header["written_at_s"]), UTC)
        notes.append(
            f"restored checkpoint of {written.isoformat(timespec='seconds')} "
            f"(journal seq {seq}), {len(records)} journal record(s) to replay"
        )
        return Restored(state, seq, records, self.sent.read(), notes)

    def _discard(self) -> None:
        self.journal.discard()
        self.sent.discard()

    def due(self, *, changed: bool) -> bool:
        """Time for a checkpoint: the interval passed and the state ``changed`` since the
        last one, or that one nears ``max_age_s`` (an idle store is not rewritten every
        interval, yet never lets its checkpoint go stale)."""
        now = self._clock()
        return now >= self._next_s and (changed or now >= self._written_s + self.max_age_s / 2)

    def save(self, state: dict[str, Any], journal_seq: int, tables: DerivedTables) -> None:
        """Checkpoint ``state`` (it holds every journal record up to ``journal_seq``).

        Pickled here, on the engine thread (the state must not move meanwhile); written,
        fsynced and followed by dropping the journal and sent logs it covers on a writer
        thread, so the engine does not wait for the disk. One write at a time."""
        self.flush()
        began = self._clock()
        self._next_s = began + self.every_s
        self._written_s = began
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = tables.persistent_id  # type: ignore[method-assign]
        pickler.dump(state)
        body = buffer.getvalue()
        self.stats["pickle_max_s"] = max(self.stats["pickle_max_s"], self._clock() - began)
        header = {**self._expected, "journal_seq": journal_seq, "written_at_s": self._wall_clock()}
        self.sent.rotate(journal_seq)
        self._writing = threading.Thread(
            target=self._write, args=(header, body, journal_seq), name="checkpoint", daemon=True
        )
        self._writing.start()

    def _write(self, header: dict[str, Any], body: bytes, journal_seq: int) -> None:
        began = self._clock()
        try:
            size = write_checkpoint(self.checkpoint_path, header, body)
            self.journal.checkpointed(journal_seq)
            self.sent.drop_before(journal_seq)
        except OSError:  # a full disk: the journal grows, nothing is lost; keep serving
            self.stats["checkpoint_errors"] += 1
            log.exception("checkpoint %s not written", self.checkpoint_path)
            return
        self.stats["checkpoints"] += 1
        self.stats["checkpoint_bytes"] = size
        self.stats["write_max_s"] = max(self.stats["write_max_s"], self._clock() - began)

    def flush(self) -> None:
        """Wait for the checkpoint being written, if any."""
        if self._writing is not None:
            self._writing.join()
            self._writing = None

    def close(self) -> None:
        self.flush()
        self.journal.close()
        self.sent.close()
        self._lock_file.close()
