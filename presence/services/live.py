"""The live engine service: observations from MQTT -> positioning.engine.Engine -> events and positions.

One :class:`StoreEngine` per store. Observation messages are decoded on the bus
client's dispatcher thread, a run of messages at a time (malformed ones are
dead-lettered with the reason and counted, never fatal), de-duplicated (a QoS 1
redelivery after a broker restart carries the same scan twice) and handed to one
engine thread, which pushes them to the engine in arrival order, at most every
``PUSH_EVERY_S`` (what arrived meanwhile goes in one push). The engine's output
does not depend on how its input is chunked, so the events equal a batch run's on the
same log (``instore locate``), ids included.

Events go out with QoS 1 on ``events/<type>``; positions at most once per device per
``positions_every_s`` of wall time (the bus feeds live maps; analysts who need every
position run ``instore locate``). A replay's end-of-stream control message closes open
visits, like the end of a file in batch.

With a :class:`~presence.services.runstate.StoreState` the engine survives a restart:
accepted messages are journaled before the broker gets their acknowledgement, the
engine is checkpointed every few seconds, and :meth:`StoreEngine.restore` reloads the
checkpoint and replays the journal, publishing only events the broker had not
acknowledged yet (docs/scale.md, "What state lives where").
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import pickle
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from beacons.observation import ObservationBatch
from beacons.streamclock import StreamClock
from positioning.engine import Engine, EngineOutput, EngineParams
from positioning.layout import Layout
from presence.errors import UsageError
from presence.services.derived import DerivedTables
from presence.services.journal import KIND_CONTROL, KIND_SCAN, JournalRecord
from presence.services.runstate import StoreState
from presence.transport.bus import Bus, DeadLetters
from presence.transport.payloads import (
    PayloadError,
    PositionMessage,
    ScanMessage,
    decode_control,
    decode_observations,
    encode_event,
    encode_position,
)
from presence.transport.topics import Topics

__all__ = [
    "DEDUP_MEMORY",
    "ENGINE_TICK_S",
    "live_stats",
    "live_summary",
    "LiveService",
    "LiveStats",
    "MAX_WAITING_ROWS",
    "parse_shard",
    "PUSH_EVERY_S",
    "SEEN_IN_CHECKPOINT",
    "shard_layouts",
    "shard_of",
    "StoreEngine",
]

log = logging.getLogger(__name__)

#: Rows waiting for the engine before the bus handler blocks (the broker then holds
#: the rest: unacknowledged QoS 1 messages are its to keep). ~10 s at 20,000 obs/s.
MAX_WAITING_ROWS = 200_000
#: Scans remembered to drop redeliveries: a broker restart resends at most the
#: in-flight window plus what it queued, far below this.
DEDUP_MEMORY = 100_000
#: Newest remembered scans a checkpoint keeps. After a restart the broker redelivers only
#: what was unacknowledged at the kill: at most the dispatcher's run being handled
#: (DISPATCH_CHUNK, 2,000) can be journaled yet unacknowledged; 10x that is ample, and
#: spares each checkpoint pickling the whole dedup memory.
SEEN_IN_CHECKPOINT = 20_000
#: Engine thread wake-up when idle, seconds: bounds the added latency (10 ms).
ENGINE_TICK_S = 0.01
#: Shortest time between two pushes into the engine, seconds. Each push has a fixed cost
#: (merging and sorting the engine's pending rows, taking the GIL from the bus threads);
#: pushing what arrived in 50 ms at once instead of every few messages pays it at most
#: 20 times a second. It adds at most 50 ms to event latency (measured p99 ~60 ms at
#: real-time pace, was ~26 ms; target 500 ms).
PUSH_EVERY_S = 0.05


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected i/n, e.g. 0/2") from None
    if not 0 <= i < n:
        raise UsageError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def shard_layouts(layouts: Sequence[Layout], shard: int, n_shards: int) -> list[Layout]:
    """The layouts worker ``shard`` of ``n_shards`` runs; store names must be distinct."""
    names = [layout.name for layout in layouts]
    if len(set(names)) != len(names):
        raise UsageError(f"--store: the same store name twice in {names}")
    return [layout for layout in layouts if shard_of(layout.name, n_shards) == shard]


def shard_of(store: str, n_shards: int) -> int:
    """The worker of a store: jump consistent hash (Lamping & Veach 2014, arXiv:1406.2294)
    of the store id, so going from n to n+1 workers moves only ~1/(n+1) of the stores."""
    key = int.from_bytes(hashlib.sha256(store.encode()).digest()[:8], "big")
    b, j = -1, 0
    while j < n_shards:
        b = j
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


@dataclass(slots=True)
class _Scan:
    scan: ScanMessage | None  # None: end of stream
    arrived_s: float
    seq: int = 0  # number in the scan journal (0: no journal)


@dataclass(slots=True)
class LiveStats:
    scans: int = 0
    rows: int = 0
    duplicates: int = 0
    events: int = 0
    positions: int = 0
    streams_ended: int = 0
    replayed: int = 0  # journal records replayed on restore
    suppressed: int = 0  # events re-derived on restore that the broker had acknowledged
    deadletters: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    engine_s: float = 0.0  # clock time inside the positioning engine (push and finish)
    engine_cpu_s: float = 0.0  # CPU time of the calling thread inside the engine
    first_arrival_s: float | None = None  # clock time of the first scan
    last_processed_s: float | None = None  # clock time the engine last finished a batch


class StoreEngine:
    """The engine of one store, fed from the bus, publishing to ``out``."""

    def __init__(
        self,
        layout: Layout,
        out: Bus,
        *,
        locator: str = "tracker",
        seed: int = 0,
        params: EngineParams | None = None,
        positions_every_s: float = 1.0,
        service: str = "run",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        state: StoreState | None = None,
    ) -> None:
        """``clock`` times arrivals, latencies and pacing (monotonic); ``wall_clock`` stamps
        dead letters; ``time.thread_time`` measures the engine's CPU, not a time of day.
        ``state``: where the engine is journaled and checkpointed (None: memory only)."""
        self.layout = layout
        self.topics = Topics(layout.name)
        self._out = out
        self._make_engine = lambda: Engine(layout, params, locator=locator, seed=seed)
        self.engine = self._make_engine()
        self._tables = DerivedTables(self.engine) if state is not None else None
        self._beacons = frozenset(layout.beacon_ids)
        self._positions_every_s = positions_every_s
        self._service = service
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: deque[_Scan] = deque()
        self._waiting_rows = 0
        self._seen: set[tuple[object, ...]] = set()
        self._seen_order: deque[tuple[object, ...]] = deque()
        # Held across dedup and journal write: a checkpoint never remembers a scan as seen
        # that the journal does not hold yet (the broker would redeliver it to a dropper).
        self._seen_lock = threading.Lock()
        self._state = state
        self._pushed_seq = 0  # last journal record pushed into the engine
        self._unconfirmed: list[tuple[str, str, bytes]] = []  # (id, topic, payload) published
        self._suppress: set[str] = set()  # ids acknowledged before a restart
        self._changed = False  # the engine or the unacknowledged events moved since the checkpoint
        self._last_position_s: dict[str, float] = {}
        self.stats = LiveStats()
        self.engine_totals: Counter[str] = Counter()  # engine counters of finished streams
        self._deadletters = DeadLetters(
            out, self.topics.deadletter, service, clock=wall_clock, counts=self.stats.deadletters
        )
        self._stream_clock = StreamClock(wall_clock=wall_clock)

    # --- bus side (dispatcher thread) ------------------------------------------------------

    def on_obs(self, topic: str, payload: bytes) -> None:
        self.on_obs_batch([(topic, payload)])

    def on_obs_batch(self, messages: list[tuple[str, bytes]]) -> None:
        """Decode a run of observation messages and queue them for the engine at once."""
        arrived = self._clock()
        items: list[_Scan] = []
        accepted: list[tuple[str, bytes]] = []
        rows = 0
        with self._seen_lock:
            for topic, payload in messages:
                scan = self._deadletters.decode(self._decode_live, topic, payload)
                if scan is None:
                    continue
                if self._remember(_scan_key(scan)):
                    items.append(_Scan(scan, arrived))
                    accepted.append((topic, payload))
                    rows += len(scan.rssi_dbm)
            if self._state is not None and accepted:
                # Before returning: the dispatcher acknowledges to the broker afterwards.
                for item, seq in zip(
                    items, self._state.journal.append(KIND_SCAN, accepted), strict=True
                ):
                    item.seq = seq
        if items:
            if self.stats.first_arrival_s is None:
                self.stats.first_arrival_s = arrived
            self._enqueue(items, rows)

    def _decode_scan(self, topic: str, payload: bytes) -> ScanMessage:
        scan = decode_observations(payload, self._beacons)
        # The subscription is obs/+, so the device is the topic's last level.
        if scan.device_id != topic.rpartition("/")[2]:
            raise PayloadError("topic_mismatch", f"device {scan.device_id!r} on {topic}")
        return scan

    def _decode_live(self, topic: str, payload: bytes) -> ScanMessage:
        scan = self._decode_scan(topic, payload)
        if not self._stream_clock.admit(scan.device_id, scan.t_s):
            # One reading dated far ahead would make every honest one after it "late".
            raise PayloadError(
                "time_out_of_range",
                f"t_s {scan.t_s:.0f} is over {self._stream_clock.max_jump_s:.0f} s ahead of "
                "the stream and of the wall clock, and no other device confirms it",
            )
        return scan

    def on_control(self, topic: str, payload: bytes) -> None:
        control = self._deadletters.decode(lambda _t, p: decode_control(p), topic, payload)
        if control is None:
            return
        _command, t_s = control
        with self._seen_lock:
            if not self._remember(("end", t_s)):
                return
            seq = 0
            if self._state is not None:
                seq = self._state.journal.append(KIND_CONTROL, [(topic, payload)])[0]
        self._enqueue([_Scan(None, self._clock(), seq)], 0)

    def _remember(self, key: tuple[object, ...]) -> bool:
        """False if this scan was seen already (a redelivery)."""
        if key in self._seen:
            self.stats.duplicates += 1
            return False
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > DEDUP_MEMORY:
            self._seen.discard(self._seen_order.popleft())
        return True

    def _enqueue(self, items: list[_Scan], rows: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._waiting_rows < MAX_WAITING_ROWS)
            self._waiting.extend(items)
            self._waiting_rows += rows
            self._cond.notify_all()

    # --- engine side (engine thread) -------------------------------------------------------

    def process(self) -> int:
        """Push everything waiting to the engine and publish the output; returns scans handled."""
        with self._cond:
            items = list(self._waiting)
            self._waiting.clear()
            self._waiting_rows = 0
            self._cond.notify_all()
        # Before new events go out: what went out a push ago has been acknowledged by now.
        self._confirm_published()
        self._process_items(items)
        self._keep_state()
        return len(items)

    def _process_items(self, items: list[_Scan]) -> None:
        start = 0
        for i, item in enumerate(items):
            if item.scan is None:
                self._push(items[start:i])
                began, began_cpu = self._clock(), time.thread_time()
                final = self.engine.finish()
                self.stats.engine_s += self._clock() - began
                self.stats.engine_cpu_s += time.thread_time() - began_cpu
                self._publish(final, {})
                self.engine_totals.update(self.engine.stats)
                self.engine = self._make_engine()
                if self._tables is not None:
                    self._tables = DerivedTables(self.engine)
                self.stats.streams_ended += 1
                start = i + 1
        self._push(items[start:])
        if items:
            self._changed = True
            self.stats.last_processed_s = self._clock()
            self._pushed_seq = max(self._pushed_seq, max(it.seq for it in items))

    def _push(self, items: Sequence[_Scan]) -> None:
        if not items:
            return
        scans = [it.scan for it in items if it.scan is not None]
        sizes = [len(s.rssi_dbm) for s in scans]
        times = [t for s in scans for t in s.times()]
        batch = ObservationBatch.from_arrays(
            np.array(times, dtype=np.float64),
            np.repeat(np.array([s.device_id for s in scans], dtype=object), sizes),
            np.array([b for s in scans for b in s.rssi_dbm], dtype=object),
            np.array([r for s in scans for r in s.rssi_dbm.values()], dtype=np.float64),
        )
        # Keyed to the millisecond: events carry their detection time rounded so.
        arrivals: dict[float, float] = {}
        for it in items:
            if it.scan is not None:
                for t in it.scan.times():
                    arrivals.setdefault(round(t, 3), it.arrived_s)
        self.stats.scans += len(scans)
        self.stats.rows += len(batch)
        began, began_cpu = self._clock(), time.thread_time()
        out = self.engine.push(batch)
        self.stats.engine_s += self._clock() - began
        self.stats.engine_cpu_s += time.thread_time() - began_cpu
        self._publish(out, arrivals)

    def _publish(self, out: EngineOutput, arrivals: dict[float, float]) -> None:
        for event in out.events:
            if event.id in self._suppress:
                self.stats.suppressed += 1
                continue
            topic, payload = self.topics.event(event.type), encode_event(event)
            self._out.publish(topic, payload)
            if self._state is not None:
                self._unconfirmed.append((event.id, topic, payload))
            self.stats.events += 1
            arrived = arrivals.get(round(event.detected_at_s, 3))
            if arrived is not None:
                self.stats.latencies_s.append(self._clock() - arrived)
        if self._positions_every_s > 0 and len(out.positions):
            self._publish_positions(out)

    # --- surviving a restart (engine thread, or before the service starts) -----------------

    def restore(self) -> list[str]:
        """Load the checkpoint, publish what it holds unacknowledged, replay the journal;
        returns notes for people. Call before the service subscribes."""
        if self._state is None:
            return []
        assert self._tables is not None
        restored = self._state.restore(self._tables)
        self._suppress = restored.sent
        self._pushed_seq = restored.seq
        if restored.state is not None:
            self.engine = restored.state["engine"]
            self.engine_totals.update(restored.state["engine_totals"])
            for key in pickle.loads(restored.state["seen"]):
                self._remember(key)
            for event_id, topic, payload in restored.state["unconfirmed"]:
                if event_id not in self._suppress:
                    self._out.publish(topic, payload)
                    self._unconfirmed.append((event_id, topic, payload))
        items = [item for r in restored.records if (item := self._replayed(r)) is not None]
        self.stats.replayed = len(items)
        self._process_items(items)
        self._pushed_seq = max(self._pushed_seq, self._state.journal.last_seq)
        self.checkpoint()
        return restored.notes

    def _replayed(self, record: JournalRecord) -> _Scan | None:
        """A journal record as the engine thread would have received it (already deduplicated)."""
        try:
            if record.kind == KIND_CONTROL:
                self._remember(("end", decode_control(record.payload)[1]))
                return _Scan(None, self._clock(), record.seq)
            scan = self._decode_scan(record.topic, record.payload)
        except PayloadError:  # it was accepted once; a journal from other code: skip it
            return None
        self._remember(_scan_key(scan))
        self._stream_clock.went_on(scan.t_s)  # admitted once, before the restart
        return _Scan(scan, self._clock(), record.seq)

    def _keep_state(self) -> None:
        """Note what the broker acknowledged; checkpoint when due."""
        if self._state is None:
            return
        self._confirm_published()
        if self._state.due(changed=self._changed):
            self.checkpoint()

    def _confirm_published(self) -> None:
        """Log the ids of published events once the broker acknowledged everything."""
        if self._state is not None and self._unconfirmed and self._out.wait_published(0.0):
            self._state.sent.append([event_id for event_id, _t, _p in self._unconfirmed])
            self._unconfirmed.clear()

    @property
    def state_stats(self) -> dict[str, float] | None:
        """Checkpoint counters (None: no state kept)."""
        return None if self._state is None else dict(self._state.stats)

    def checkpoint(self) -> None:
        """Write the engine's checkpoint now (engine thread, or after the service stopped)."""
        if self._state is None:
            return
        with self._seen_lock:
            seen = list(
                itertools.islice(
                    self._seen_order, max(0, len(self._seen_order) - SEEN_IN_CHECKPOINT), None
                )
            )
        state = {
            "engine": self.engine,
            "engine_totals": Counter(self.engine_totals),
            # Pickled apart, at C speed: through the checkpoint's pickler every element of
            # 20,000 keys would call back into Python (DerivedTables.persistent_id).
            "seen": pickle.dumps(seen, protocol=pickle.HIGHEST_PROTOCOL),
            "unconfirmed": list(self._unconfirmed),
        }
        assert self._tables is not None
        self._state.save(state, self._pushed_seq, self._tables)
        self._changed = False
        self._suppress = set()  # what it protected is now before the checkpoint

    def close_state(self, *, final_checkpoint: bool = True) -> None:
        """Final checkpoint after the service stopped and ``out`` drained; release the state.
        Without ``final_checkpoint`` (the engine failed mid-push, its state is suspect) the
        last checkpoint and the journal after it stay as they are."""
        if self._state is None:
            return
        if final_checkpoint:
            self._confirm_published()
            self.checkpoint()
        self._state.close()

    def _publish_positions(self, out: EngineOutput) -> None:
        p = out.positions
        now = self._clock()
        latest: dict[str, int] = {}
        for i, device in enumerate(p.device_id.tolist()):
            latest[device] = i
        for device, i in latest.items():
            if now - self._last_position_s.get(device, -np.inf) < self._positions_every_s:
                continue
            self._last_position_s[device] = now
            msg = PositionMessage(
                self.layout.name,
                device,
                float(p.t_s[i]),
                float(p.x_m[i]),
                float(p.y_m[i]),
                str(p.zone[i]),
                float(p.sigma_m[i]),
            )
            self._out.publish(self.topics.position(device), encode_position(msg))
            self.stats.positions += 1


def _scan_key(scan: ScanMessage) -> tuple[object, ...]:
    """What makes a scan a redelivery of one already seen."""
    dt = tuple(scan.dt_s.items()) if scan.dt_s else ()
    return (scan.device_id, scan.t_s, tuple(scan.rssi_dbm.items()), dt)


class LiveService:
    """Subscribes every store's observations on ``inbound`` and runs the engine thread."""

    def __init__(
        self,
        engines: Sequence[StoreEngine],
        inbound: Bus,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engines = list(engines)
        self._inbound = inbound
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-engine", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> LiveService:
        self._thread.start()
        for engine in self.engines:
            self._inbound.subscribe_batch(engine.topics.obs_filter, engine.on_obs_batch)
            self._inbound.subscribe(engine.topics.control, engine.on_control)
        return self

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                start = self._clock()
                handled = sum(engine.process() for engine in self.engines)
                rest = (PUSH_EVERY_S if handled else ENGINE_TICK_S) - (self._clock() - start)
                if rest > 0:
                    self._stop.wait(rest)
            for engine in self.engines:
                engine.process()
        except (
            BaseException
        ) as e:  # surfaced by wait(); the service cannot go on without its engine
            self.error = e
            log.exception("live engine failed")

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until stopped or failed; True if the engine thread ended."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def live_stats(engines: Sequence[StoreEngine]) -> dict[str, Any]:
    """Counters and latencies of each store's engine (``instore run --stats-json``)."""
    out: dict[str, Any] = {}
    for e in engines:
        lat = np.asarray(e.stats.latencies_s)
        out[e.layout.name] = {
            "scans": e.stats.scans,
            "rows": e.stats.rows,
            "duplicates": e.stats.duplicates,
            "events": e.stats.events,
            "positions": e.stats.positions,
            "streams_ended": e.stats.streams_ended,
            "replayed": e.stats.replayed,
            "suppressed": e.stats.suppressed,
            "state": e.state_stats,
            "deadletters": dict(e.stats.deadletters),
            "engine": dict(e.engine_totals + Counter(e.engine.stats)),
            "busy_s": (
                e.stats.last_processed_s - e.stats.first_arrival_s
                if e.stats.first_arrival_s is not None and e.stats.last_processed_s is not None
                else None
            ),
            "engine_s": e.stats.engine_s,
            "engine_cpu_s": e.stats.engine_cpu_s,
            "process_cpu_s": time.process_time(),
            "latency_p50_ms": float(np.percentile(lat, 50) * 1e3) if len(lat) else None,
            "latency_p99_ms": float(np.percentile(lat, 99) * 1e3) if len(lat) else None,
        }
    return out


def live_summary(engines: Sequence[StoreEngine]) -> str:
    """One line of counters for people (printed every few seconds and on exit)."""
    parts = []
    for name, s in live_stats(engines).items():
        dead = sum(s["deadletters"].values())
        parts.append(
            f"{name}: {s['rows']} obs, {s['events']} events, {s['positions']} positions, "
            f"{dead} dead-lettered, {s['duplicates']} duplicates dropped"
        )
    return "instore run: " + "; ".join(parts)
