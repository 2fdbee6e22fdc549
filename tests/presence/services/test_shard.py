"""Two `instore run --shard i/2` workers over four stores: each store's events come from exactly
one worker, all of them, once (consistent hash of the store id)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from positioning.engine import Engine
from positioning.layout import load_layout
from presence.services.live import shard_of
from presence.services.replay import replay_log
from presence.testing import (
    Collector,
    Instore,
    PrivateMosquitto,
    simulated_day,
    unique_store,
    wait_until,
)
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import decode_event
from presence.transport.topics import ALL_EVENTS_FILTER
from sim.obslog import read_observation_log

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    Instore.kill_all()


def _stores(tmp: Path) -> list[Path]:
    """Four copies of the showroom under new names, two per shard."""
    text = SHOWROOM.read_text()
    names: dict[int, list[str]] = {0: [], 1: []}
    while min(len(v) for v in names.values()) < 2:
        name = unique_store("shop")
        if len(names[shard_of(name, 2)]) < 2:
            names[shard_of(name, 2)].append(name)
    paths = []
    for name in names[0] + names[1]:
        path = tmp / f"{name}.toml"
        path.write_text(text.replace('name = "demo-showroom"', f'name = "{name}"'))
        paths.append(path)
    return paths


def _key(e: object) -> tuple[object, ...]:
    ev = decode_event(e) if isinstance(e, bytes) else e
    return (ev.type, ev.device_id, round(ev.time_s, 3), ev.zone)  # type: ignore[union-attr]


@pytest.fixture
def mosquitto_url(tmp_path: Path) -> Iterator[str]:
    """A private Mosquitto configured like examples/mosquitto (no queue limit): the system one
    keeps Mosquitto's default of 1,000 queued messages per client and drops the rest."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("no mosquitto binary")
    with PrivateMosquitto(tmp_path / "mosquitto") as mosq:
        yield mosq.url


def test_two_workers_split_stores_without_splitting_any(
    mosquitto_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mqtt_url = mosquitto_url
    day = simulated_day(tmp_path_factory.getbasetemp(), SHOWROOM)
    paths = _stores(tmp_path)
    assert 'name = "demo-showroom"' in SHOWROOM.read_text()
    engine = Engine(load_layout(SHOWROOM))
    batch = read_observation_log(day, load_layout(SHOWROOM).beacon_ids).batch
    expected = sorted(_key(e) for e in engine.push(batch).events + engine.finish().events)
    store_args = [a for p in paths for a in ("--store", str(p))]
    got = Collector()
    with BusClient(BusConfig(mqtt_url), "watch", persistent=False) as watch:
        watch.subscribe(ALL_EVENTS_FILTER, got)
        workers = [
            Instore(
                tmp_path,
                f"w{i}",
                "run",
                *store_args,
                "--shard",
                f"{i}/2",
                "--broker",
                mqtt_url,
                "--until-end",
                "--positions-every",
                "0",
                "--stats-json",
                str(tmp_path / f"w{i}.json"),
            )
            for i in (0, 1)
        ]
        for w in workers:
            w.wait_for("ready", 60)
        cfg = BusConfig(mqtt_url)

        def replay(path: Path) -> None:
            with BusClient(cfg, "replay", persistent=False) as pub:
                replay_log(pub, load_layout(path), str(day), speed=100)

        threads = [threading.Thread(target=replay, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for w in workers:
            assert w.finish(90) == 0, w.stderr.read_text()
        n_expected = len(expected) * len(paths)
        assert wait_until(lambda: len({p for _t, p in got.snapshot()}) >= n_expected, 20)
    stats = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in (0, 1)]
    names = [load_layout(p).name for p in paths]
    assert set(stats[0]) == set(names[:2]) and set(stats[1]) == set(names[2:])
    by_store: dict[str, list[bytes]] = {}
    for _topic, payload in got.snapshot():
        by_store.setdefault(decode_event(payload).store, []).append(payload)
    for name in names:
        events = list(dict.fromkeys(by_store[name]))  # QoS 1: drop redeliveries
        assert sorted(_key(p) for p in events) == expected, name
