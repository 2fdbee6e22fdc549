"""Crash test with real processes: the welcome service SIGKILLed between committing a
message and publishing it, then restarted: the message is published exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from positioning.events import STORE_ENTER, PresenceEvent
from presence.commands.welcome import FAULT_ENV
from presence.crm.schema import outbox
from presence.crm.store import CrmStore
from presence.crm.testing import add_customer
from presence.testing import Collector, unique_store, wait_until
from presence.transport.broker import start_embedded_broker
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import encode_event
from presence.transport.topics import Topics

pytestmark = [pytest.mark.broker, pytest.mark.slow]

T0 = 1_767_603_600.0  # 2026-01-05 09:00 UTC, 10:00 in Amsterdam: outside quiet hours
READY_TIMEOUT_S = 60.0


def start_welcome(
    mqtt_url: str, crm_url: str, store: str, client_id: str, log: Path, fault: bool
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = "kill-after-commit"
    cmd = [
        sys.executable, "-m", "presence.cli", "welcome",
        "--broker", mqtt_url, "--crm", crm_url, "--store", store,
        "--client-id", client_id, "--control-share", "0",
    ]  # fmt: skip
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, stderr=err, stdout=subprocess.DEVNULL)
    ready = wait_until(
        lambda: b"ready" in log.read_bytes() or proc.poll() is not None, READY_TIMEOUT_S
    )
    assert ready and proc.poll() is None, log.read_text()
    return proc


def outbox_states(crm_url: str) -> list[str]:
    with CrmStore(crm_url) as crm, crm.engine.connect() as conn:
        return [r.status for r in conn.execute(sa.select(outbox.c.status))]


@pytest.fixture
def broker_url() -> Iterator[str]:
    """Mosquitto where configured (CI), else an embedded broker: one broker per run, as
    the test starts two service processes and is slow on a busy machine."""
    configured = os.environ.get("INSTORE_TEST_MQTT_URL")
    if configured:
        yield configured
        return
    broker = start_embedded_broker()
    try:
        yield broker.url
    finally:
        broker.close()


def test_killed_between_commit_and_publish_sends_exactly_once(
    broker_url: str, crm_url: str, tmp_path: Path
) -> None:
    mqtt_url = broker_url
    store = unique_store()
    topics = Topics(store)
    with CrmStore(crm_url) as crm:
        add_customer(crm, "C1", ("p1",), grants={"marketing": 0.0})
    client_id = f"welcome-crash-{uuid.uuid4().hex[:8]}"
    received = Collector()
    cfg = BusConfig(mqtt_url)
    with BusClient(cfg, "phone", persistent=False) as phone:
        phone.subscribe(topics.message("p1"), received)
        first = start_welcome(mqtt_url, crm_url, store, client_id, tmp_path / "first.log", True)
        event = PresenceEvent(STORE_ENTER, store, "p1", T0, T0 + 1.0, 15.0, 0.5)
        with BusClient(cfg, "engine", persistent=False) as engine:
            engine.publish(topics.event(STORE_ENTER), encode_event(event))
            assert engine.wait_published(10)
        assert first.wait(30) == -signal.SIGKILL
        assert outbox_states(crm_url) == ["pending"]  # decided and committed, never published
        assert len(received) == 0
        second = start_welcome(mqtt_url, crm_url, store, client_id, tmp_path / "second.log", False)
        try:
            assert wait_until(lambda: len(received) >= 1, 20)
            # The broker also redelivers the unacknowledged event: it must not send again.
            time.sleep(2.0)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, (tmp_path / "second.log").read_text()
    messages = [json.loads(p) for _t, p in received.snapshot()]
    assert len(messages) == 1
    assert outbox_states(crm_url) == ["sent"]
    assert messages[0]["template"] == "generic" and messages[0]["kind"] == "welcome"
