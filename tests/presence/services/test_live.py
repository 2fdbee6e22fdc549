"""The live engine service: malformed messages are dead-lettered with the reason, counted, never fatal."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from positioning.layout import load_layout
from presence.services.live import LiveService, StoreEngine, parse_shard, shard_of
from presence.testing import MemoryBus, wait_until
from presence.transport.payloads import MAX_PAYLOAD_BYTES, decode_deadletter, encode_observations
from presence.transport.topics import Topics

SHOWROOM = Path(__file__).resolve().parents[3] / "examples" / "stores" / "showroom.toml"
T0 = 1_795_392_000.0


def _bad_messages(rng: random.Random, n: int) -> list[tuple[str, bytes, str]]:
    """(device, payload, expected reason), seeded."""
    kinds = [
        (b"{nope", "bad_json"),
        (
            json.dumps(
                {"schema": "instore.obs/9", "device": "d", "t": T0, "rssi": {"s1": -60}}
            ).encode(),
            "schema_version",
        ),
        (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", "oversized"),
        (encode_observations("d", T0, {"zz9": -60.0}), "unknown_beacon"),
        (
            json.dumps(
                {"schema": "instore.obs/1", "device": "d", "t": "noon", "rssi": {"s1": -60}}
            ).encode(),
            "wrong_type",
        ),
        (
            json.dumps(
                {"schema": "instore.obs/1", "device": "d", "t": T0, "rssi": {"s1": 3}}
            ).encode(),
            "rssi_out_of_range",
        ),
        (encode_observations("other", T0, {"s1": -60.0}), "topic_mismatch"),
    ]
    out = []
    for _ in range(n):
        payload, reason = kinds[rng.randrange(len(kinds))]
        out.append(("d", payload, reason))
    for _ in range(n // 4):  # random bytes: any reason, but never a crash
        out.append(("d", bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 80))), ""))
    rng.shuffle(out)
    return out


def test_fuzz_dead_letters_with_reason_and_keeps_running() -> None:
    layout = load_layout(SHOWROOM)
    t = Topics(layout.name)
    bus = MemoryBus()
    bad = _bad_messages(random.Random(7), 2000)
    engine = StoreEngine(layout, bus, positions_every_s=0)
    service = LiveService([engine], bus).start()
    for device, payload, _reason in bad:
        bus.publish(t.obs(device), payload)
    # then good data: a device heard for 20 s must still make it in
    for i in range(200):
        bus.publish(
            t.obs("good"),
            encode_observations("good", T0 + i * 0.1, {"s1": -55.0, "s2": -70.0, "s3": -75.0}),
        )
    assert wait_until(lambda: engine.stats.scans >= 200, 30)
    assert service.alive
    service.stop()
    assert bus.stats["handler_errors"] == 0
    expected: dict[str, int] = {}
    for _d, _p, reason in bad:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    for reason, n in expected.items():
        assert engine.stats.deadletters[reason] >= n
    assert sum(engine.stats.deadletters.values()) == len(bad)
    letters = [decode_deadletter(p) for p in bus.payloads(t.deadletter)]
    assert len(letters) == len(bad)
    assert {d["reason"] for d in letters} >= set(expected)
    assert all(d["topic"] == t.obs("d") and d["service"] == "run" for d in letters)
    assert max(d["payload_bytes"] for d in letters) > MAX_PAYLOAD_BYTES


def test_shards_partition_stores_consistently() -> None:
    stores = [f"store-{i}" for i in range(200)]
    two = [shard_of(s, 2) for s in stores]
    assert set(two) == {0, 1} and 70 < two.count(0) < 130
    three = [shard_of(s, 3) for s in stores]
    moved = sum(a != b for a, b in zip(two, three, strict=True))
    assert moved < 100  # jump hash moves ~1/3 of stores, a modulo hash ~2/3
    assert all(shard_of(s, 1) == 0 for s in stores)
    assert parse_shard("1/2") == (1, 2)
    with pytest.raises(Exception, match="--shard"):
        parse_shard("2/2")
