"""Real processes, real brokers: a broker restart mid-replay, and SIGKILLed services.

Every test runs against the embedded broker (restarted in place, its sessions kept as a
persistent broker keeps them) and against a private Mosquitto with persistence that the
test stops and starts (the system Mosquitto on 1883 is not ours to restart).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from positioning.layout import load_layout
from presence.cli import main
from presence.services.replay import replay_log
from presence.testing import Instore, PrivateMosquitto, simulated_day, wait_until
from presence.transport.broker import EmbeddedBroker
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import decode_event
from presence.transport.topics import Topics

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"
STORE = "demo-showroom"

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    Instore.kill_all()


@dataclass
class Broker:
    url: str
    restart: Any  # (down_s) -> None
    kind: str


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    if request.param == "embedded":
        emb = EmbeddedBroker().start()

        def restart_emb(down_s: float) -> None:
            emb.stop(keep_sessions=True)
            time.sleep(down_s)
            emb.start()

        try:
            yield Broker(emb.url, restart_emb, "embedded")
        finally:
            emb.close()
        return
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("no mosquitto binary")
    mosq = PrivateMosquitto(tmp_path / "mosquitto").start()

    def restart_mosq(down_s: float) -> None:
        mosq.stop()
        time.sleep(down_s)
        mosq.start()

    try:
        yield Broker(mosq.url, restart_mosq, "mosquitto")
    finally:
        mosq.close()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_day(tmp_path_factory.getbasetemp(), SHOWROOM)


@pytest.fixture(scope="module")
def located_ids(day: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("loc")
    assert (
        main(
            [
                "locate",
                "--store",
                str(SHOWROOM),
                "--observations",
                str(day),
                "-o",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    return [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()]


class IdempotentConsumer:
    """Counts deliveries by event id; 'processes' each id once."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()

    def __call__(self, _topic: str, payload: bytes) -> None:
        self.deliveries[decode_event(payload).id] += 1

    @property
    def processed(self) -> set[str]:
        return set(self.deliveries)


class Replay(threading.Thread):
    """`instore replay`'s publisher in a thread of the test (a process fewer to start)."""

    def __init__(self, url: str, day: Path, speed: float) -> None:
        super().__init__(daemon=True)
        self.url, self.day, self.speed = url, day, speed
        self.rows = -1

    def run(self) -> None:
        with BusClient(BusConfig(self.url), "replay", persistent=False) as pub:
            self.rows = replay_log(pub, load_layout(SHOWROOM), str(self.day), speed=self.speed).rows

    def finish(self, timeout_s: float) -> int:
        self.join(timeout_s)
        return self.rows


def test_broker_restart_mid_replay_loses_nothing(
    broker: Broker, day: Path, located_ids: list[str], tmp_path: Path
) -> None:
    consumer = IdempotentConsumer()
    with BusClient(
        BusConfig(broker.url), "consumer", client_id=f"consumer-{tmp_path.name}"
    ) as client:
        client.subscribe(Topics(STORE).events_filter, consumer)
        run = Instore(
            tmp_path,
            "run",
            "run",
            "--store",
            str(SHOWROOM),
            "--broker",
            broker.url,
            "--until-end",
            "--stats-json",
            str(tmp_path / "run.json"),
        )
        run.wait_for("ready")
        replay = Replay(broker.url, day, 60)
        replay.start()
        time.sleep(1.5)
        broker.restart(1.0)
        assert replay.finish(60) > 0
        assert run.finish(60) == 0, run.stderr.read_text()
        arrived = wait_until(lambda: consumer.processed >= set(located_ids), 20)
    stats = json.loads((tmp_path / "run.json").read_text())[STORE]
    # What a failure needs to be told apart: a loss on the bus (the run published every
    # event, the consumer lacks some) from a live run that computed other events (rows
    # late or missing in the engine, other ids).
    why = (
        f"{len(set(located_ids) - consumer.processed)} of {len(located_ids)} batch events not "
        f"received, {len(consumer.processed - set(located_ids))} not in the batch run; run "
        f"published {stats['events']} events from {stats['rows']} rows, engine {stats['engine']}"
    )
    assert arrived and consumer.processed == set(located_ids), why
    assert stats["deadletters"] == {} and stats["streams_ended"] == 1


def test_killed_run_and_consumer_get_what_they_missed(
    broker: Broker, day: Path, tmp_path: Path
) -> None:
    reference = IdempotentConsumer()  # never killed: sees every event run published
    run_args = [
        "run",
        "--store",
        str(SHOWROOM),
        "--broker",
        broker.url,
        "--until-end",
        "--stats-json",
        str(tmp_path / "run.json"),
    ]
    events_args = [
        "events",
        "--store",
        STORE,
        "--broker",
        broker.url,
        "--json",
        "--persistent",
        "--client-id",
        f"tail-{tmp_path.name}",
    ]
    with BusClient(BusConfig(broker.url), "reference", persistent=False) as client:
        client.subscribe(Topics(STORE).events_filter, reference)
        run = Instore(tmp_path, "run1", *run_args)
        tail = Instore(tmp_path, "tail1", *events_args)
        run.wait_for("ready")
        tail.wait_for("listening")
        replay = Replay(broker.url, day, 40)
        replay.start()
        time.sleep(2.5)
        run.kill()
        tail.kill()
        seen_before = len(reference.processed)
        time.sleep(1.5)  # the replay goes on; the broker queues for both sessions
        run = Instore(tmp_path, "run2", *run_args)
        tail = Instore(tmp_path, "tail2", *events_args)
        assert replay.finish(60) > 0
        assert run.finish(60) == 0, run.stderr.read_text()
        assert wait_until(lambda: len(reference.processed) > seen_before, 10)
        tail.wait_for("listening")

        def got() -> set[str]:
            files = [tmp_path / "tail1.out", tmp_path / "tail2.out"]
            return {json.loads(x)["id"] for f in files for x in f.read_text().splitlines()}

        ok = wait_until(lambda: got() >= reference.processed, 20)
        tail.proc.terminate()
        tail.finish(10)
    assert ok and got() == reference.processed
    stats = json.loads((tmp_path / "run.json").read_text())[STORE]
    assert stats["rows"] > 0 and stats["streams_ended"] == 1
