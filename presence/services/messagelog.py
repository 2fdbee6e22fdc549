"""Recorded MQTT message logs, published again with their original pacing (``instore replay
--messages``): a real capture (an ESPresense house, a gateway's traffic) demoed and tested
like a simulated day.

A message log holds one JSON object a line, as ``mosquitto_sub -F %j`` (or ``%J``) prints
them and as ``examples/recordings/espresense-stationary/messages.jsonl`` holds them:

- ``topic``: where it was published (a topic, not a filter: no ``+`` or ``#``; at most
  65,535 UTF-8 bytes, MQTT's bound);
- ``payload``: a string, sent as UTF-8; any other JSON value (``%J`` prints JSON payloads
  as objects) is sent as compact JSON;
- ``t`` (epoch seconds) or else ``tst`` (ISO 8601 with a UTC offset, mosquitto_sub's
  ``%j``): when it was received; the pacing follows it;
- optional ``qos`` (0, 1, 2; default 0, what sensors such as ESPresense publish) and
  ``retain`` (0/1 or a boolean; kept only with ``keep_retain``, so that a demo leaves no
  retained message behind on the broker by default).

A line that cannot be used is counted by reason (with the number of its first line) and
skipped, never fatal. Messages go out in the log's order; message ``i`` leaves at
``start + (t_i - t_0) / speed``, or at once if the log's time went backwards or the
publisher is behind.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from presence.transport.bus import Bus

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_TOPIC_BYTES",
    "MessageReplayReport",
    "read_message_log",
    "RecordedMessage",
    "RejectedLines",
    "replay_messages",
]

#: Longest line read, bytes: an MQTT payload of a sensor or gateway is a few KiB; this bounds
#: what one broken line (a binary file given by mistake) can cost.
MAX_LINE_BYTES = 1024 * 1024
#: The pacer sleeps only when it is at least this far ahead, seconds (sleep granularity).
_MIN_SLEEP_S = 0.002
#: Characters a topic name cannot hold (MQTT 3.1.1 sections 4.7.1 and 1.5.3).
_NOT_IN_TOPIC = ("+", "#", "\x00")
#: Longest topic name, UTF-8 bytes: MQTT's two-byte length prefix (section 1.5.3).
MAX_TOPIC_BYTES = 65_535


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One message of a log: ``t_s`` epoch seconds at which it was received."""

    line: int
    t_s: float
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True)
class RejectedLines:
    """Lines skipped, by reason; ``first_line`` the number of each reason's first line."""

    counts: dict[str, int] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, line: int) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.first_line.setdefault(reason, line)

    def describe(self) -> str:
        """``"2 no_time (first at line 7), ..."`` or ``"none"``."""
        parts = [
            f"{n} {reason} (first at line {self.first_line[reason]})"
            for reason, n in sorted(self.counts.items())
        ]
        return ", ".join(parts) or "none"


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _time(obj: dict[str, Any]) -> float:
    t = obj.get("t")
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise _Rejected("bad_time")
        return float(t)
    tst = obj.get("tst")
    if tst is None:
        raise _Rejected("no_time")
    try:
        when = datetime.fromisoformat(tst) if isinstance(tst, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:  # a time without an offset is no instant
        raise _Rejected("bad_time")
    return when.timestamp()


def _payload(obj: dict[str, Any]) -> bytes:
    if "payload" not in obj:
        raise _Rejected("no_payload")
    payload = obj["payload"]
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeError:  # a lone surrogate escape ("\ud800"): no bytes spell it
            raise _Rejected("bad_payload") from None
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _flag(obj: dict[str, Any], key: str, allowed: tuple[int, ...], default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int) or value not in allowed:
        raise _Rejected(f"bad_{key}")
    return value


def _message(line_no: int, raw: bytes) -> RecordedMessage:
    if len(raw) > MAX_LINE_BYTES:
        raise _Rejected("line_too_long")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeError, json.JSONDecodeError, RecursionError):
        raise _Rejected("bad_json") from None
    if not isinstance(obj, dict):
        raise _Rejected("not_an_object")
    topic = obj.get("topic")
    if not isinstance(topic, str) or not topic or any(c in topic for c in _NOT_IN_TOPIC):
        raise _Rejected("bad_topic")
    try:  # a topic MQTT cannot carry made the publish raise (issue 18, finding 11)
        if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
            raise _Rejected("bad_topic")
    except UnicodeError:  # a lone surrogate escape ("\ud800")
        raise _Rejected("bad_topic") from None
    return RecordedMessage(
        line=line_no,
        t_s=_time(obj),
        topic=topic,
        payload=_payload(obj),
        qos=_flag(obj, "qos", (0, 1, 2), 0),
        retain=bool(_flag(obj, "retain", (0, 1), 0)),
    )


def read_message_log(path: str | Path, rejected: RejectedLines) -> Iterator[RecordedMessage]:
    """The log's usable messages in file order; unusable lines are added to ``rejected``.
    Blank lines are skipped silently. Raises OSError if the file cannot be read."""
    with Path(path).open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield _message(line_no, raw)
            except _Rejected as e:
                rejected.add(e.reason, line_no)


@dataclass(frozen=True, slots=True)
class MessageReplayReport:
    messages: int
    first_t_s: float
    last_t_s: float
    elapsed_s: float
    rejected: RejectedLines
    topics: int


def replay_messages(
    bus: Bus,
    path: str | Path,
    *,
    speed: float = 1.0,
    keep_retain: bool = False,
    on_message: Callable[[RecordedMessage], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> MessageReplayReport:
    """Publish the log's messages on ``bus`` at ``speed`` x their recorded pacing (``inf``:
    as fast as the bus takes them); waits until the broker acknowledged the QoS > 0 ones."""
    rejected = RejectedLines()
    messages = 0
    topics: set[str] = set()
    t0 = t_last = math.nan
    start = clock()
    for msg in read_message_log(path, rejected):
        if messages == 0:
            t0, start = msg.t_s, clock()
        elif math.isfinite(speed):
            ahead = start + (msg.t_s - t0) / speed - clock()
            if ahead > _MIN_SLEEP_S:
                sleep(ahead)
        bus.publish(msg.topic, msg.payload, qos=msg.qos, retain=keep_retain and msg.retain)
        messages += 1
        topics.add(msg.topic)
        t_last = msg.t_s
        if on_message is not None:
            on_message(msg)
    bus.wait_published(timeout_s=600.0)
    return MessageReplayReport(messages, t0, t_last, clock() - start, rejected, len(topics))
