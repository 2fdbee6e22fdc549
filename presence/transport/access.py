"""Who may read and write which topics: Mosquitto's ``acl_file`` format, read and enforced in Python.

The embedded broker enforces the very file Mosquitto reads (``examples/mosquitto/acl``), so
the demo and a store run under one access list. :data:`STANDARD_ACL` is that list; a test
keeps the example file equal to it, rule for rule.

Supported, as in Mosquitto 2 (``man mosquitto.conf``, "acl_file"):

- ``user NAME``: the rules below it apply to that user (until the next ``user`` line);
  ``topic`` lines before any ``user`` line apply to anonymous clients;
- ``topic [read|write|readwrite|deny] TOPIC``: access to topics matching ``TOPIC``
  (``+`` and ``#`` wildcards; without an access word, ``readwrite``);
- ``pattern [access] TOPIC``: for every user, with ``%u`` (user name) and ``%c`` (client id)
  substituted first;
- ``#`` comments and blank lines.

A ``deny`` rule that matches wins over every grant. Publishing needs a matching ``write``
rule; a subscription must lie inside a ``read`` rule (its wildcards only where the rule
has wildcards); each delivery needs a ``read`` rule matching the message's topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from presence.errors import PresenceError

__all__ = ["AccessError", "AccessList", "AccessRule", "STANDARD_ACL"]

_ACCESS = ("read", "write", "readwrite", "deny")
#: Answers remembered per access list before the memory starts over.
_MAX_ANSWERS = 65_536

#: The instore access list (docs/mqtt.md, "Who may write what"). One user per role:
#: presence events, positions and control messages each have exactly one writer.
STANDARD_ACL = """\
# Radio gateways (`instore scan`, `instore ingest-espresense`): observations in, nothing else.
user gateway
topic write instore/v1/+/obs/+
topic write instore/v1/+/deadletter
topic readwrite instore/v1/+/status/#
topic read espresense/devices/#

# `instore replay`: observations and the end of stream, which closes every open visit.
user replay
topic write instore/v1/+/obs/+
topic write instore/v1/+/control
topic readwrite instore/v1/+/status/#

# `instore run`: observations in; events, positions, dead letters out.
user engine
topic read instore/v1/+/obs/+
topic read instore/v1/+/control
topic write instore/v1/+/events/#
topic write instore/v1/+/positions/+
topic write instore/v1/+/deadletter
topic readwrite instore/v1/+/status/#

# CRM lookup and welcome service: events in; staff alerts and welcome messages out.
user crm
topic read instore/v1/+/events/#
topic write instore/v1/+/staff/alerts
topic write instore/v1/+/messages/+
topic write instore/v1/+/deadletter
topic readwrite instore/v1/+/status/#

# Staff dashboard: what the page shows, including the personal staff alerts.
user dashboard
topic read instore/v1/+/events/#
topic read instore/v1/+/positions/+
topic read instore/v1/+/staff/alerts
topic read instore/v1/+/deadletter
topic readwrite instore/v1/+/status/#

# Analysts and `instore archive`: the pseudonymous streams only.
user analyst
topic read instore/v1/+/events/#
topic read instore/v1/+/positions/+
topic readwrite instore/v1/+/status/#

# Operators (monitoring; the demo's recorder): read everything, write nothing but status.
user operator
topic read instore/v1/#
topic readwrite instore/v1/+/status/#

# A phone with a broker user named after its device id reads its own welcome messages.
pattern read instore/v1/+/messages/%u
"""


class AccessError(PresenceError):
    """An access list line cannot be read; names the source and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One ``topic`` (``user`` None: anonymous) or ``pattern`` (``is_pattern``) line."""

    access: str
    topic: str
    user: str | None = None
    is_pattern: bool = False

    def grants(self, want: str) -> bool:
        """Does this rule's access word cover ``want`` ("read" or "write")?"""
        return self.access == "readwrite" or self.access == want

    def topic_for(self, username: str | None, client_id: str | None) -> str | None:
        """The rule's topic for this client (patterns substituted), None if it cannot apply."""
        if not self.is_pattern:
            return self.topic
        if ("%u" in self.topic and not username) or ("%c" in self.topic and not client_id):
            return None
        # Mosquitto refuses substitution with a name that would act as a wildcard or level.
        for value in (username, client_id):
            if value and any(c in value for c in "/+#"):
                return None
        return self.topic.replace("%u", username or "").replace("%c", client_id or "")


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching of a concrete ``topic`` against ``topic_filter`` (``+`` and ``#``)."""
    want = topic_filter.split("/")
    got = topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(got) or (level != "+" and level != got[i]):
            return False
    return len(want) == len(got)


def _covers(rule_topic: str, subscription: str) -> bool:
    """Does every topic ``subscription`` can match also match ``rule_topic``?

    Level by level: a rule's ``#`` covers the rest, its ``+`` covers any one level (a ``+``
    too), a literal covers only the same literal; the subscription's ``#`` needs the rule's.
    """
    rule = rule_topic.split("/")
    sub = subscription.split("/")
    for i, level in enumerate(rule):
        if level == "#":
            return True
        if i >= len(sub) or sub[i] == "#":
            return False
        if level != "+" and level != sub[i]:
            return False
    return len(rule) == len(sub)


@dataclass(frozen=True, slots=True)
class AccessList:
    """Rules per user; ask :meth:`may_publish`, :meth:`may_subscribe`, :meth:`may_receive`."""

    rules: tuple[AccessRule, ...]
    source: str = "acl"
    users: frozenset[str] = field(init=False)
    # The broker asks once per message and reader: rules indexed by user, and answers
    # remembered (a store has a few hundred topics per user), bounded.
    _by_user: dict[str | None, tuple[AccessRule, ...]] = field(
        init=False, repr=False, compare=False
    )
    _answers: dict[tuple[str | None, str | None, str, str], bool] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        names = {r.user for r in self.rules if r.user is not None and not r.is_pattern}
        object.__setattr__(self, "users", frozenset(names))
        by_user: dict[str | None, list[AccessRule]] = {}
        for rule in self.rules:
            if not rule.is_pattern:
                by_user.setdefault(rule.user, []).append(rule)
        object.__setattr__(self, "_by_user", {u: tuple(r) for u, r in by_user.items()})
        object.__setattr__(self, "_answers", {})

    @classmethod
    def parse(cls, text: str, source: str = "acl") -> AccessList:
        rules: list[AccessRule] = []
        user: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word == "user":
                if not rest or " " in rest:
                    raise AccessError(source, number, f"user {rest!r}: expected one name")
                user = rest
            elif word in ("topic", "pattern"):
                rules.append(_rule(source, number, word, rest, user))
            else:
                raise AccessError(
                    source, number, f"{word!r}: expected user, topic, pattern or a # comment"
                )
        return cls(tuple(rules), source)

    @classmethod
    def read(cls, path: Path | str) -> AccessList:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise AccessError(str(path), 0, f"cannot read the access list: {e}") from None
        return cls.parse(text, str(path))

    @classmethod
    def standard(cls) -> AccessList:
        return cls.parse(STANDARD_ACL, "STANDARD_ACL")

    def _applicable(
        self, username: str | None, client_id: str | None
    ) -> Iterable[tuple[AccessRule, str]]:
        for rule in self._by_user.get(username, ()):
            yield rule, rule.topic
        if username is None:
            return  # Mosquitto applies patterns to authenticated users only
        for rule in self.rules:
            if rule.is_pattern:
                topic = rule.topic_for(username, client_id)
                if topic is not None:
                    yield rule, topic

    def _allowed(self, username: str | None, client_id: str | None, want: str, test: str) -> bool:
        key = (username, client_id, want, test)
        answer = self._answers.get(key)
        if answer is None:
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
            answer = self._answers[key] = self._decide(username, client_id, want, test)
        return answer

    def _decide(self, username: str | None, client_id: str | None, want: str, test: str) -> bool:
        check = _covers if want == "subscribe" else _matches
        access = "read" if want in ("subscribe", "read") else "write"
        granted = False
        for rule, topic in self._applicable(username, client_id):
            if not check(topic, test):
                continue
            if rule.access == "deny":
                return False
            granted = granted or rule.grants(access)
        return granted

    def may_publish(self, username: str | None, topic: str, client_id: str | None = None) -> bool:
        return self._allowed(username, client_id, "write", topic)

    def may_subscribe(
        self, username: str | None, topic_filter: str, client_id: str | None = None
    ) -> bool:
        return self._allowed(username, client_id, "subscribe", topic_filter)

    def may_receive(self, username: str | None, topic: str, client_id: str | None = None) -> bool:
        return self._allowed(username, client_id, "read", topic)


def _rule(source: str, number: int, word: str, rest: str, user: str | None) -> AccessRule:
    parts = rest.split(" ", 1)
    if len(parts) == 2 and parts[0] in _ACCESS:
        access, topic = parts[0], parts[1].strip()
    elif parts[0] in _ACCESS:
        raise AccessError(source, number, f"{word} {parts[0]}: the topic is missing")
    else:
        access, topic = "readwrite", rest
    if not topic or " " in topic:
        raise AccessError(source, number, f"{word} topic {topic!r}: expected one topic filter")
    levels = topic.split("/")
    if any(("#" in lv and (lv != "#" or i != len(levels) - 1)) for i, lv in enumerate(levels)):
        raise AccessError(source, number, f"topic {topic!r}: '#' must be the last level")
    if any("+" in lv and lv != "+" for lv in levels):
        raise AccessError(source, number, f"topic {topic!r}: '+' must be a whole level")
    return AccessRule(access, topic, None if word == "pattern" else user, word == "pattern")
