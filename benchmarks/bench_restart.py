"""Restart benchmark: `instore run` SIGKILLed mid-replay and restarted, without and with its state.

Prints, for one kill each way, what a consumer of the events received against the
uninterrupted run (``instore locate`` on the same log, which the live run equals):
events missing and extra, store enters, visits open at the kill that were entered a second
time, and deliveries of the same event twice (at least once: re-published after the kill).

    python benchmarks/bench_restart.py                         # embedded broker, ~1 minute
    python benchmarks/bench_restart.py --broker mqtt://127.0.0.1:1883

tests/presence/services/test_restart.py runs the same kill as a test.
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from positioning.events import PresenceEvent
from positioning.layout import load_layout
from presence.cli import main as instore
from presence.services.replay import replay_log
from presence.testing import Instore, simulated_day, wait_until
from presence.transport.broker import start_embedded_broker
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import decode_event
from presence.transport.topics import Topics

__all__ = ["ENTERS_BEFORE_KILL", "kill_and_restart", "Outcome", "SHOWROOM", "SPEED"]

SHOWROOM = Path(__file__).resolve().parents[1] / "examples" / "stores" / "showroom.toml"
#: Replay pace: the 4-minute day in ~6 s, so the kill lands mid-visit.
SPEED = 40.0
#: Store enters the consumer has seen before the kill: visits are in progress.
ENTERS_BEFORE_KILL = 3


def own_store(workdir: Path) -> Path:
    """The showroom under a store name of its own: a shared broker's other tests never mix in."""
    name = f"restart-{uuid.uuid4().hex[:8]}"
    text = SHOWROOM.read_text().replace('name = "demo-showroom"', f'name = "{name}"', 1)
    assert name in text
    path = workdir / f"{name}.toml"
    path.write_text(text)
    return path


def batch_events(store: Path, day: Path, out: Path) -> list[PresenceEvent]:
    args = ["locate", "--store", str(store), "--observations", str(day), "-o", str(out)]
    if instore([*args, "--quiet"]) != 0:
        raise RuntimeError(f"instore locate failed on {day}")
    lines = (out / "events.jsonl").read_text().splitlines()
    return [PresenceEvent.from_cloudevent(json.loads(line)) for line in lines]


@dataclass
class Outcome:
    """What the consumer received around the kill."""

    reference: list[PresenceEvent]
    deliveries: Counter[str] = field(default_factory=Counter)
    events: dict[str, PresenceEvent] = field(default_factory=dict)
    open_at_kill: set[str] = field(default_factory=set)  # devices in the store at the kill
    stats: dict[str, object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the consumer thread adds

    def enters(self) -> int:
        with self.lock:
            return sum(1 for e in self.events.values() if e.type == "instore.store.enter")

    def visit_sequences(self) -> dict[str, list[str]]:
        """Per device, its store enters and exits in time order (an exit sorts before an
        enter at the same instant)."""
        out: dict[str, list[str]] = {}
        order = {"instore.store.exit": 0, "instore.store.enter": 1}
        for e in sorted(self.events.values(), key=lambda e: (e.time_s, order.get(e.type, 2))):
            if e.type in order:
                out.setdefault(e.device_id, []).append(e.type.rpartition(".")[2])
        return out


def kill_and_restart(
    url: str,
    day: Path,
    workdir: Path,
    *extra: str,
    speed: float = SPEED,
    delay_s: float = 0.0,
    sig: signal.Signals = signal.SIGKILL,
) -> Outcome:
    """Run, replay, SIGKILL the run once visits are open, restart it, collect every event."""
    store = own_store(workdir)
    layout = load_layout(store)
    outcome = Outcome(batch_events(store, day, workdir / "batch"))

    def consume(_topic: str, payload: bytes) -> None:
        event = decode_event(payload)
        with outcome.lock:
            outcome.deliveries[event.id] += 1
            outcome.events[event.id] = event

    run_args = [
        "run",
        "--store",
        str(store),
        "--broker",
        url,
        "--until-end",
        "--client-id",
        f"run-{layout.name}",
        "--state-dir",
        str(workdir / "state"),
        "--positions-every",
        "0",
        "--stats-json",
        str(workdir / "run.json"),
        *extra,
    ]
    with BusClient(BusConfig(url), "consumer", persistent=False) as client:
        client.subscribe(Topics(layout.name).events_filter, consume)
        run = Instore(workdir, "run1", *run_args)
        run.wait_for("ready")
        replay = threading.Thread(
            target=_replay, args=(url, layout.source, day, speed), daemon=True
        )
        replay.start()
        assert wait_until(lambda: outcome.enters() >= ENTERS_BEFORE_KILL, 30, 0.01)
        time.sleep(delay_s)
        run.proc.send_signal(sig)
        run.proc.wait(30)
        with outcome.lock:
            outcome.open_at_kill = {
                d for d, seq in outcome.visit_sequences().items() if seq[-1] == "enter"
            }
        run = Instore(workdir, "run2", *run_args)
        replay.join(60)
        assert run.finish(60) == 0, run.stderr.read_text()
        expected = {e.id for e in outcome.reference}
        wait_until(lambda: set(outcome.deliveries) >= expected, 10)
    outcome.stats = json.loads((workdir / "run.json").read_text())[layout.name]
    return outcome


def _replay(url: str, store: str, day: Path, speed: float) -> None:
    with BusClient(BusConfig(url), "replay", persistent=False) as pub:
        replay_log(pub, load_layout(store), str(day), speed=speed, window_s=0.9)


def summary(out: Outcome) -> dict[str, int]:
    reference = {e.id for e in out.reference}
    sequences = out.visit_sequences()
    return {
        "events_uninterrupted": len(reference),
        "events_received": len(out.events),
        "missing": len(reference - set(out.events)),
        "extra": len(set(out.events) - reference),
        "store_enter_uninterrupted": sum(e.type == "instore.store.enter" for e in out.reference),
        "store_enter_received": sum(e.type == "instore.store.enter" for e in out.events.values()),
        "open_at_kill": len(out.open_at_kill),
        "open_at_kill_entered_again": sum(
            1
            for d in out.open_at_kill
            if any(a == b == "enter" for a, b in zip(sequences[d], sequences[d][1:], strict=False))
        ),
        "delivered_twice": sum(c - 1 for c in out.deliveries.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", help="broker URL (default: an embedded broker)")
    args = parser.parse_args()
    broker = None if args.broker else start_embedded_broker()
    url = args.broker or broker.url  # type: ignore[union-attr]
    base = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    day = simulated_day(base, SHOWROOM)
    try:
        for label, extra in [("memory only", ["--checkpoint-every", "0"]), ("with state", [])]:
            work = base / label.replace(" ", "-")
            work.mkdir()
            out = kill_and_restart(url, day, work, *extra)
            Instore.kill_all()
            print(json.dumps({"run": label, **summary(out)}))
    finally:
        if broker is not None:
            broker.close()


if __name__ == "__main__":
    main()
