"""The access list and password hashes the embedded broker shares with Mosquitto."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from presence.transport.access import AccessError, AccessList
from presence.transport.credentials import (
    CredentialsError,
    RunCredentials,
    hash_password,
    read_password_file,
    verify_password,
)
from presence.transport.topics import Topics

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mosquitto"
T = Topics("demo-fashion")


def test_the_example_acl_is_the_standard_one() -> None:
    assert AccessList.read(EXAMPLE / "acl").rules == AccessList.standard().rules


def test_every_role_has_a_user_in_the_example_password_file() -> None:
    users = read_password_file(EXAMPLE / "passwords")
    assert AccessList.standard().users == set(users)
    for user, hashed in users.items():  # README.md's demo passwords
        assert verify_password(f"{user}-demo-password", hashed), user


@pytest.mark.parametrize(
    ("user", "topic", "allowed"),
    [
        ("engine", T.event("instore.store.enter"), True),
        ("engine", T.position("d1"), True),
        ("gateway", T.obs("d1"), True),
        ("gateway", T.event("instore.store.enter"), False),
        ("gateway", T.position("d1"), False),
        ("gateway", T.control, False),
        ("replay", T.control, True),
        ("replay", T.obs("d1"), True),
        ("replay", T.event("instore.store.exit"), False),
        ("crm", T.staff_alerts, True),
        ("engine", T.staff_alerts, False),
        ("dashboard", T.staff_alerts, False),
        ("crm", T.message("d1"), True),
        ("crm", T.event("instore.store.enter"), False),
        ("operator", T.event("instore.store.enter"), False),
        ("analyst", T.status("archive"), True),
        (None, T.obs("d1"), False),
        ("stranger", T.obs("d1"), False),
    ],
)
def test_who_may_publish(user: str | None, topic: str, allowed: bool) -> None:
    assert AccessList.standard().may_publish(user, topic) is allowed


def test_reading_and_subscribing() -> None:
    acl = AccessList.standard()
    assert acl.may_subscribe("dashboard", T.staff_alerts)
    assert acl.may_subscribe("analyst", "instore/v1/+/events/#")
    assert not acl.may_subscribe("analyst", T.staff_alerts)
    assert not acl.may_subscribe("analyst", "instore/v1/#")  # wider than its rules
    assert not acl.may_subscribe("analyst", "#")
    assert acl.may_subscribe("operator", "instore/v1/#")
    # The known nit of issue 18: the dashboard no longer reads customers' messages.
    assert not acl.may_receive("dashboard", T.message("d1"))
    assert acl.may_receive("engine", T.control)
    assert not acl.may_receive("gateway", T.event("instore.store.enter"))


def test_a_phone_reads_only_its_own_messages() -> None:
    acl = AccessList.standard()
    assert acl.may_receive("d1", T.message("d1"))
    assert acl.may_subscribe("d1", T.message("d1"))
    assert not acl.may_receive("d1", T.message("d2"))
    assert not acl.may_subscribe("d1", T.messages_filter)


def test_deny_wins_and_anonymous_rules() -> None:
    acl = AccessList.parse(
        "topic read public/#\nuser u\ntopic readwrite a/#\ntopic deny a/secret\n", "t.acl"
    )
    assert acl.may_publish("u", "a/b") and not acl.may_publish("u", "a/secret")
    assert acl.may_receive(None, "public/x") and not acl.may_publish(None, "public/x")
    assert not acl.may_receive("u", "public/x")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("user u\ntopic writ a/b c\n", "t.acl:2"),
        ("user\n", "t.acl:1"),
        ("user u\ntopic read a/#/b\n", "t.acl:2"),
        ("user u\ntopic read a/b+\n", "t.acl:2"),
        ("user u\n\ntopic read\n", "t.acl:3"),
        ("users u\n", "t.acl:1"),
    ],
)
def test_bad_lines_are_named(text: str, where: str) -> None:
    with pytest.raises(AccessError, match=where):
        AccessList.parse(text, "t.acl")


def test_hashes_round_trip_and_refuse_wrong_passwords() -> None:
    hashed = hash_password("s3cret")
    assert hashed.startswith("$7$101$")
    assert verify_password("s3cret", hashed)
    assert not verify_password("s3cret ", hashed)
    assert not verify_password("s3cret", "$7$101$not-base64!$x")
    assert not verify_password("s3cret", "plain")


def test_password_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    path.write_text("a:$7$101$AAAA$BBBB\nb:plaintext\n")
    with pytest.raises(CredentialsError, match=r"passwords:2"):
        read_password_file(path)


def test_run_credentials_are_random_and_never_printed() -> None:
    one, two = RunCredentials.generate(), RunCredentials.generate()
    assert one.passwords["engine"] != two.passwords["engine"]
    assert one.passwords["engine"] not in repr(one)
    cfg = one.bus_config("mqtt://127.0.0.1:1", "engine")
    assert (cfg.username, cfg.password) == ("engine", one.passwords["engine"])
    with pytest.raises(CredentialsError, match="stranger"):
        one.bus_config("mqtt://127.0.0.1:1", "stranger")


def _all_filters(max_levels: int) -> list[str]:
    """Every filter of 1..max_levels levels over {a, +}, each with and without a final #."""
    out: list[str] = []
    for n in range(1, max_levels + 1):
        for levels in itertools.product(["a", "+"], repeat=n):
            out += ["/".join(levels), "/".join((*levels, "#"))]
    return out


def test_a_granted_subscription_never_reaches_past_its_rule() -> None:
    """Exhaustively over small filters: a subscription inside a read rule matches only
    topics the rule matches (so checking it once is as strict as checking each delivery),
    and a rule always covers itself."""
    filters = _all_filters(3)
    topics = ["/".join(t) for n in range(1, 5) for t in itertools.product("ab", repeat=n)]
    matches = {f: AccessList.parse(f"user u\ntopic read {f}\n") for f in filters}
    for rule in filters:
        acl = matches[rule]
        assert acl.may_subscribe("u", rule), rule
        for sub in filters:
            if not acl.may_subscribe("u", sub):
                continue
            for topic in topics:
                if matches[sub].may_receive("u", topic):
                    assert acl.may_receive("u", topic), (rule, sub, topic)
