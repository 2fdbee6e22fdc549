"""A store engine that survives a restart, in process: checkpoint + scan journal + sent log.

The engine is driven by hand (no engine thread) so each test places the "kill" exactly:
a kill is the state released without its final checkpoint, as SIGKILL leaves it.
tests/presence/services/test_restart.py does the same with real processes and brokers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from positioning.layout import load_layout
from presence.services import checkpoint as checkpoint_module
from presence.services.live import StoreEngine
from presence.services.replay import scans
from presence.services.runstate import StoreState
from presence.testing import MemoryBus, simulated_day
from presence.transport.payloads import END_OF_STREAM, decode_event, encode_control, encode_scan
from presence.transport.topics import Topics
from sim.obslog import iter_observation_log

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"
CONFIG = {"store": "demo-showroom", "locator": "tracker", "seed": 0}


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """A simulated stretch as `instore replay` publishes it, end of stream included."""
    layout = load_layout(SHOWROOM)
    day = simulated_day(tmp_path_factory.getbasetemp(), SHOWROOM)
    topics = Topics(layout.name)
    out = []
    last_t = 0.0
    for batch, _rej in iter_observation_log(str(day), beacon_ids=layout.beacon_ids):
        for scan in scans(batch, 0.9):
            out.append((topics.obs(scan.device_id), encode_scan(scan)))
            last_t = scan.t_s
    out.append((topics.control, encode_control(END_OF_STREAM, t_s=last_t, source="test")))
    return out


def _feed(engine: StoreEngine, msgs: list[tuple[str, bytes]], chunk: int = 40) -> None:
    control = engine.topics.control
    for i in range(0, len(msgs), chunk):
        part = msgs[i : i + chunk]
        obs = [m for m in part if m[0] != control]
        if obs:
            engine.on_obs_batch(obs)
        for topic, payload in part:
            if topic == control:
                engine.on_control(topic, payload)
        engine.process()


def _event_ids(bus: MemoryBus) -> list[str]:
    return [decode_event(p).id for p in bus.payloads("instore/v1/+/events/#")]


def _state(directory: Path, clock: Clock, every_s: float = 1e9) -> StoreState:
    return StoreState(directory, CONFIG, every_s=every_s, clock=clock, wall_clock=lambda: 1e9)


@pytest.fixture(scope="module")
def reference(messages: list[tuple[str, bytes]]) -> list[str]:
    """Event ids of the uninterrupted engine."""
    bus = MemoryBus()
    engine = StoreEngine(load_layout(SHOWROOM), bus, positions_every_s=0)
    _feed(engine, messages)
    return _event_ids(bus)


@pytest.mark.parametrize(("checkpoint_at", "kill_at"), [(0.0, 0.3), (0.25, 0.55), (0.5, 0.8)])
def test_killed_engine_resumes_with_the_same_events(
    messages: list[tuple[str, bytes]],
    reference: list[str],
    tmp_path: Path,
    kill_at: float,
    checkpoint_at: float,
) -> None:
    layout = load_layout(SHOWROOM)
    n = len(messages)
    cut, kill = int(n * min(checkpoint_at, kill_at)), int(n * kill_at)
    clock = Clock()
    bus1 = MemoryBus()
    first = StoreEngine(layout, bus1, positions_every_s=0, state=_state(tmp_path, clock))
    assert first.restore() == []
    _feed(first, messages[:cut])
    first.checkpoint()
    _feed(first, messages[cut:kill])
    # Received and journaled, acknowledged, never pushed into the engine: the kill came first.
    first.on_obs_batch([m for m in messages[kill : kill + 25] if m[0] != first.topics.control])
    first._state.close()  # type: ignore[union-attr]  # SIGKILL: no final checkpoint
    bus2 = MemoryBus()
    second = StoreEngine(layout, bus2, positions_every_s=0, state=_state(tmp_path, clock))
    notes = second.restore()
    assert any("restored checkpoint" in note for note in notes), notes
    # The broker redelivers what was unacknowledged at the kill: dropped as duplicates.
    _feed(second, messages[kill - 10 : kill + 25])
    _feed(second, messages[kill + 25 :])
    second.close_state()
    got = _event_ids(bus1) + _event_ids(bus2)
    assert Counter(got) == Counter(reference), (
        f"{len(set(reference) - set(got))} missing, {len(set(got) - set(reference))} extra, "
        f"{sum(c - 1 for c in Counter(got).values() if c > 1)} doubled"
    )
    assert second.stats.replayed > 0 and second.stats.duplicates >= 10


def test_without_state_a_restart_opens_visits_twice(
    messages: list[tuple[str, bytes]], reference: list[str]
) -> None:
    """What the state prevents (the old behaviour, kept for memory-only runs)."""
    layout = load_layout(SHOWROOM)
    kill = len(messages) // 2
    bus = MemoryBus()
    _feed(StoreEngine(layout, bus, positions_every_s=0), messages[:kill])
    _feed(StoreEngine(layout, bus, positions_every_s=0), messages[kill:])
    enters = [decode_event(p) for p in bus.payloads("instore/v1/+/events/store.enter")]
    assert len(enters) > sum(1 for i in reference if i in {e.id for e in enters})
    assert set(_event_ids(bus)) != set(reference)


def _kill_with_checkpoint(messages: list[tuple[str, bytes]], directory: Path) -> None:
    engine = StoreEngine(
        load_layout(SHOWROOM), MemoryBus(), positions_every_s=0, state=_state(directory, Clock())
    )
    engine.restore()
    _feed(engine, messages[: len(messages) // 3])
    engine.checkpoint()
    engine._state.close()  # type: ignore[union-attr]


def _restart(directory: Path, config: dict[str, object] = CONFIG) -> list[str]:
    state = StoreState(directory, config, clock=Clock(), wall_clock=lambda: 1e9)
    engine = StoreEngine(load_layout(SHOWROOM), MemoryBus(), positions_every_s=0, state=state)
    notes = engine.restore()
    engine.close_state()
    return notes


def test_corrupt_checkpoint_is_set_aside_not_fatal(
    messages: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    _kill_with_checkpoint(messages, tmp_path)
    path = tmp_path / "checkpoint"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    notes = _restart(tmp_path)
    assert any("set aside" in n and "checksum" in n and "checkpoint" in n for n in notes), notes
    assert list(tmp_path.glob("checkpoint.rejected-*"))
    assert not list(tmp_path.glob("scans-*.wal"))[1:]  # its journal went with it


def test_checkpoint_of_other_code_or_config_is_refused_by_name(
    messages: list[tuple[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_with_checkpoint(messages, tmp_path)
    notes = _restart(tmp_path, {**CONFIG, "seed": 1})
    assert any("'config'" in n and str(tmp_path / "checkpoint") in n for n in notes), notes
    _kill_with_checkpoint(messages, tmp_path)
    # A deploy that changed positioning: the fingerprint of the code differs.
    monkeypatch.setattr(checkpoint_module, "FORMAT_VERSION", checkpoint_module.FORMAT_VERSION + 1)
    notes = _restart(tmp_path)
    assert any("format_version" in n for n in notes), notes


def test_not_a_checkpoint_and_torn_journal(
    messages: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    (tmp_path / "checkpoint").write_bytes(b"\x80\x04garbage")
    notes = _restart(tmp_path)
    assert any("no magic line" in n for n in notes), notes
    _kill_with_checkpoint(messages, tmp_path)
    # Records after the checkpoint, the last one cut short (a power loss mid-write).
    engine = StoreEngine(
        load_layout(SHOWROOM), MemoryBus(), positions_every_s=0, state=_state(tmp_path, Clock())
    )
    engine.restore()
    engine.on_obs_batch(messages[len(messages) // 2 : len(messages) // 2 + 5])
    engine._state.close()  # type: ignore[union-attr]
    newest = max(tmp_path.glob("scans-*.wal"))
    newest.write_bytes(newest.read_bytes()[:-7])
    notes = _restart(tmp_path)
    assert any("1 torn journal record" in n for n in notes), notes
    assert any("4 journal record(s) to replay" in n for n in notes), notes


def test_a_second_run_on_the_same_state_is_refused(tmp_path: Path) -> None:
    from presence.errors import UsageError

    state = _state(tmp_path, Clock())
    with pytest.raises(UsageError, match="in use by another instore run"):
        _state(tmp_path, Clock())
    state.close()
    _state(tmp_path, Clock()).close()


def test_checkpoint_header_names_what_it_holds(
    messages: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    _kill_with_checkpoint(messages, tmp_path)
    lines = (tmp_path / "checkpoint").read_bytes().split(b"\n", 2)
    header = json.loads(lines[1])
    assert header["config"] == CONFIG and header["journal_seq"] > 0
    assert header["format_version"] == checkpoint_module.FORMAT_VERSION


def test_tables_derived_from_the_layout_are_referenced_not_written(tmp_path: Path) -> None:
    import pickle

    import numpy as np

    from positioning.engine import Engine
    from presence.services.derived import DerivedTables, large_arrays

    layout = load_layout(SHOWROOM)
    built, fresh = Engine(layout, None, seed=0), Engine(layout, None, seed=0)
    tables = DerivedTables(built)
    assert tables.shared_bytes > 1_000_000
    arrays = large_arrays(built)
    at = max(range(len(arrays)), key=lambda i: arrays[i].nbytes)
    changed = arrays[at]
    changed.flat[0] += 1.0  # changed in place after the build: must be written in full
    state = {
        "engine": built,
        "engine_totals": Counter(),
        "seen": b"\x80\x05]\x94.",
        "unconfirmed": [],
    }
    store = _state(tmp_path, Clock())
    store.save(state, 0, tables)
    store.flush()
    assert store.stats["checkpoint_bytes"] < len(pickle.dumps(built)) - tables.shared_bytes / 2
    restored = store.restore(DerivedTables(fresh)).state
    assert restored is not None
    again = large_arrays(restored["engine"])
    assert np.array_equal(again[at], changed)
    assert not np.array_equal(large_arrays(fresh)[at], changed)
    # The unchanged ones are the fresh engine's own arrays, not copies.
    assert any(a is b for a, b in zip(again, large_arrays(fresh), strict=True))
    store.close()


def test_run_refuses_a_negative_checkpoint_interval(capsys: pytest.CaptureFixture[str]) -> None:
    from presence.cli import main

    assert main(["run", "--store", str(SHOWROOM), "--checkpoint-every", "-1"]) == 2
    assert "--checkpoint-every -1.0: must be >= 0" in capsys.readouterr().err


def test_an_idle_store_is_checkpointed_only_before_its_checkpoint_goes_stale(
    tmp_path: Path,
) -> None:
    clock = Clock()
    state = StoreState(
        tmp_path, CONFIG, every_s=5.0, max_age_s=3600.0, clock=clock, wall_clock=lambda: 1e9
    )
    clock.now = 4.0
    assert not state.due(changed=True)
    clock.now = 6.0
    assert state.due(changed=True) and not state.due(changed=False)
    clock.now = 1801.0
    assert state.due(changed=False)
    state.close()
