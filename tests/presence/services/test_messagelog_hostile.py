"""``instore replay --messages`` with topics MQTT cannot carry (issue 18, finding 11): a topic
over 65,535 UTF-8 bytes or with a lone surrogate escape made paho raise ("Publish topic is
too long") and the command end in a traceback; each is now a counted ``bad_topic`` line and
the messages around it go out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from presence.cli import main
from presence.services.messagelog import MAX_TOPIC_BYTES, RejectedLines, read_message_log

FASHION = Path(__file__).resolve().parents[3] / "examples" / "stores" / "fashion.toml"


def hostile_log(path: Path) -> Path:
    good = {"t": 1.0, "topic": "espresense/devices/ok/kitchen", "payload": '{"rssi": -60}'}
    lines = [
        good,
        {**good, "t": 1.1, "topic": "espresense/devices/" + "x" * 100_000 + "/kitchen"},
        {**good, "t": 1.2, "topic": "a/" + "\u00e9" * (MAX_TOPIC_BYTES // 2)},  # 65,538 bytes
        {**good, "t": 1.3, "topic": "espresense/devices/\ud800/kitchen"},
        {**good, "t": 1.4, "topic": "a/" + "b" * (MAX_TOPIC_BYTES - 2)},  # exactly the bound
        {**good, "t": 2.0},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_topics_mqtt_cannot_carry_are_counted_lines(tmp_path: Path) -> None:
    rejected = RejectedLines()
    kept = [m.line for m in read_message_log(hostile_log(tmp_path / "m.jsonl"), rejected)]
    assert kept == [1, 5, 6]
    assert rejected.counts == {"bad_topic": 3} and rejected.first_line["bad_topic"] == 2


@pytest.mark.broker
def test_replay_of_a_hostile_message_log_ends_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = hostile_log(tmp_path / "m.jsonl")
    args = ["replay", "--store", str(FASHION), "--messages", str(log), "--speed", "max"]
    assert main([*args, "--quiet"]) == 0
    out = capsys.readouterr()
    assert "3 bad_topic (first at line 2)" in out.out + out.err
