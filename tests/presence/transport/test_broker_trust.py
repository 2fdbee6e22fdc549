"""Trust on the bus (issue 18.2): the embedded broker and Mosquitto enforce the same users and
access list (examples/mosquitto/): a gateway cannot publish events, positions, staff alerts
or control messages; strangers cannot connect."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from presence.cli import main
from presence.testing import Collector, Instore, PrivateMosquitto, unique_store, wait_until
from presence.transport.broker import BrokerAuth, BrokerError, EmbeddedBroker
from presence.transport.bus import BusClient, BusConfig, BusError
from presence.transport.ports import free_port
from presence.transport.topics import Topics

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mosquitto"
HAS_MOSQUITTO = shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists()

pytestmark = pytest.mark.broker


def secured_mosquitto(workdir: Path) -> PrivateMosquitto:
    """A private Mosquitto with the example's passwords and access list, on a free port."""
    broker = PrivateMosquitto(workdir, "allow_anonymous false\nper_listener_settings false\n")
    # Mosquitto started as root reads these as the "mosquitto" user: hand it readable copies.
    for name in ("acl", "passwords"):
        copy = broker.state_dir / name
        shutil.copyfile(EXAMPLE / name, copy)
        copy.chmod(0o644)
    with broker.conf.open("a") as conf:
        conf.write(f"acl_file {broker.state_dir / 'acl'}\n")
        conf.write(f"password_file {broker.state_dir / 'passwords'}\n")
    return broker


@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "mosquitto", marks=pytest.mark.skipif(not HAS_MOSQUITTO, reason="no mosquitto")
        ),
    ]
)
def secured_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "embedded":
        auth = BrokerAuth.from_files(EXAMPLE / "passwords", EXAMPLE / "acl")
        with EmbeddedBroker(auth=auth) as broker:
            yield broker.url
        return
    with secured_mosquitto(tmp_path) as mosquitto:
        yield mosquitto.url


def _as(url: str, user: str | None, password: str | None = None) -> BusConfig:
    if user is not None and password is None:
        password = f"{user}-demo-password"
    return BusConfig(url, username=user, password=password, connect_timeout_s=5)


def test_strangers_and_wrong_passwords_are_refused(secured_url: str) -> None:
    with pytest.raises(BusError, match="(?i)not authori[sz]ed|bad user"):
        BusClient(_as(secured_url, None), "stranger", persistent=False)
    with pytest.raises(BusError, match="(?i)not authori[sz]ed|bad user"):
        BusClient(_as(secured_url, "engine", "guess"), "guesser", persistent=False)
    with BusClient(_as(secured_url, "engine"), "run", persistent=False) as ok:
        assert ok.connected


def test_a_gateway_cannot_publish_events_positions_alerts_or_control(secured_url: str) -> None:
    t = Topics(unique_store())
    seen, engine_control = Collector(), Collector()
    with (
        BusClient(_as(secured_url, "operator"), "monitor", persistent=False) as operator,
        BusClient(_as(secured_url, "engine"), "run", persistent=False) as engine,
        BusClient(_as(secured_url, "gateway"), "gw", persistent=False) as gateway,
        BusClient(_as(secured_url, "gateway"), "forger", persistent=False) as forger,
        BusClient(_as(secured_url, "replay"), "replay", persistent=False) as replay,
        BusClient(_as(secured_url, "crm"), "crm", persistent=False) as crm,
    ):
        operator.subscribe(f"{t.base}/#", seen)
        engine.subscribe(t.control, engine_control)
        forged = [
            t.event("instore.store.enter"),
            t.position("d1"),
            t.staff_alerts,
            t.control,
        ]
        # Mosquitto 2.0.11 closes the connection after each refused publish (paho
        # reconnects and re-sends what was not acknowledged): the forgers are clients of
        # their own, and only the honest ones are waited for.
        for topic in forged:
            forger.publish(topic, b"forged by a gateway")
        gateway.publish(t.obs("d1"), b"gateway obs")
        engine.publish(t.event("instore.store.enter"), b"engine event")
        crm.publish(t.staff_alerts, b"crm alert")
        replay.publish(t.control, b"replay control")
        for client in (gateway, engine, crm, replay):
            assert client.wait_published(5)
        with (
            BusClient(_as(secured_url, "engine"), "e2", persistent=False) as engine_forger,
            BusClient(_as(secured_url, "crm"), "c2", persistent=False) as crm_forger,
        ):
            engine_forger.publish(t.staff_alerts, b"forged by the engine")
            crm_forger.publish(t.event("instore.store.enter"), b"forged by the crm")
        assert wait_until(lambda: len(seen) >= 4 and len(engine_control) >= 1, 5)
        assert not wait_until(lambda: len(seen) > 4 or len(engine_control) > 1, 1.0)
    payloads = sorted(p for _t, p in seen.snapshot())
    assert payloads == [b"crm alert", b"engine event", b"gateway obs", b"replay control"]
    assert [p for _t, p in engine_control.snapshot()] == [b"replay control"]


def test_readers_get_only_what_their_rules_grant(secured_url: str) -> None:
    t = Topics(unique_store())
    analyst_seen, dashboard_seen = Collector(), Collector()
    with (
        BusClient(_as(secured_url, "analyst"), "archive", persistent=False) as analyst,
        BusClient(_as(secured_url, "dashboard"), "dash", persistent=False) as dashboard,
        BusClient(_as(secured_url, "crm"), "crm", persistent=False) as crm,
    ):
        analyst.subscribe(t.staff_alerts, analyst_seen)
        dashboard.subscribe(t.staff_alerts, dashboard_seen)
        dashboard.subscribe(t.messages_filter, dashboard_seen)  # the nit of issue 18: no more
        crm.publish(t.staff_alerts, b"personal")
        crm.publish(t.message("d1"), b"welcome")
        assert crm.wait_published(5)
        assert wait_until(lambda: len(dashboard_seen) >= 1, 5)
        assert not wait_until(lambda: len(dashboard_seen) > 1 or len(analyst_seen) > 0, 1.0)
    assert [p for _t, p in dashboard_seen.snapshot()] == [b"personal"]


def test_an_open_embedded_broker_stays_on_loopback() -> None:
    with pytest.raises(BrokerError, match="0.0.0.0 serves the bus to the network"):
        EmbeddedBroker(host="0.0.0.0")
    # The same from the command line, before it listens on anything.
    assert main(["broker", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert main(["broker", "--password-file", str(EXAMPLE / "passwords"), "--port", "1"]) == 2


def test_the_demo_broker_has_per_run_users_and_the_standard_acl() -> None:
    from presence.demo.setup import DEMO_ROLES, demo_bus_config, start_secured_broker

    broker, credentials = start_secured_broker()
    t = Topics(unique_store())
    seen = Collector()
    try:
        with pytest.raises(BusError, match="(?i)not authori[sz]ed"):
            BusClient(BusConfig(broker.url, connect_timeout_s=5), "stranger", persistent=False)
        guessed = BusConfig(broker.url, username="engine", password="engine-demo-password")
        with pytest.raises(BusError, match="(?i)not authori[sz]ed"):
            BusClient(guessed, "guesser", persistent=False)
        with (
            BusClient(demo_bus_config(broker.url, credentials, "recorder"), "rec") as recorder,
            BusClient(demo_bus_config(broker.url, credentials, "scan"), "scan") as scanner,
            BusClient(demo_bus_config(broker.url, credentials, "run-out"), "run") as engine,
        ):
            recorder.subscribe(t.events_filter, seen)
            scanner.publish(t.event("instore.store.enter"), b"forged")
            engine.publish(t.event("instore.store.enter"), b"real")
            assert scanner.wait_published(5) and engine.wait_published(5)
            assert wait_until(lambda: len(seen) >= 1, 5)
            assert not wait_until(lambda: len(seen) > 1, 0.5)
        assert [p for _t, p in seen.snapshot()] == [b"real"]
        assert set(DEMO_ROLES.values()) <= set(credentials.passwords)
        assert broker.refusals["connect"] == 2 and broker.refusals["publish"] == 1
    finally:
        broker.close()


def test_instore_broker_with_the_example_files_enforces_them(tmp_path: Path) -> None:
    port = free_port()
    broker = Instore(
        tmp_path,
        "broker",
        "broker",
        "--port",
        str(port),
        "--password-file",
        str(EXAMPLE / "passwords"),
        "--acl-file",
        str(EXAMPLE / "acl"),
    )
    try:
        broker.wait_for("listening")
        assert "7 users" in broker.stderr.read_text()
        url = f"mqtt://127.0.0.1:{port}?protocol=3.1.1"
        with pytest.raises(BusError, match="(?i)not authori[sz]ed"):
            BusClient(BusConfig(url, connect_timeout_s=5), "stranger", persistent=False)
        with BusClient(_as(url, "replay"), "replay", persistent=False) as replay:
            replay.publish(Topics(unique_store()).control, b"end")
            assert replay.wait_published(5)
    finally:
        broker.proc.terminate()
        assert broker.finish(15) == 0
