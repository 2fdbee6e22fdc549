"""examples/mosquitto/ on a private Mosquitto: strangers and wrong users are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from presence.testing import Collector, PrivateMosquitto, unique_store, wait_until
from presence.transport.bus import BusClient, BusConfig, BusError
from presence.transport.topics import Topics

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mosquitto"

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
        reason="no mosquitto binary",
    ),
]


@pytest.fixture
def secured(tmp_path: Path) -> PrivateMosquitto:
    keep = ("allow_anonymous", "acl_file", "password_file", "per_listener_settings")
    lines = [
        line
        for line in (EXAMPLE / "mosquitto.conf").read_text().splitlines()
        if line.split(" ")[0] in keep
    ]
    text = "\n".join(lines) + "\n"
    broker = PrivateMosquitto(tmp_path, "")
    # Mosquitto started as root reads these as the "mosquitto" user, which cannot enter a
    # root-only checkout (a CI clone under mktemp -d): hand it copies it can read.
    for name in ("acl", "passwords"):
        copy = broker.state_dir / name
        shutil.copyfile(EXAMPLE / name, copy)
        copy.chmod(0o644)
    text = text.replace("acl_file acl", f"acl_file {broker.state_dir / 'acl'}")
    text = text.replace(
        "password_file passwords", f"password_file {broker.state_dir / 'passwords'}"
    )
    broker.conf.write_text(broker.conf.read_text() + text)
    return broker


def _cfg(url: str, user: str | None, password: str | None = None) -> BusConfig:
    if user is not None and password is None:
        password = f"{user}-demo-password"
    return BusConfig(url, username=user, password=password, connect_timeout_s=5)


def test_strangers_and_wrong_passwords_are_refused(secured: PrivateMosquitto) -> None:
    with secured:
        with pytest.raises(BusError, match="(?i)not authori[sz]ed|bad user"):
            BusClient(_cfg(secured.url, None), "stranger", persistent=False)
        with pytest.raises(BusError, match="(?i)not authori[sz]ed|bad user"):
            BusClient(_cfg(secured.url, "engine", "guess"), "guesser", persistent=False)
        with BusClient(_cfg(secured.url, "engine"), "run", persistent=False) as ok:
            assert ok.protocol == "5"


def test_acl_keeps_staff_alerts_and_event_writes_restricted(secured: PrivateMosquitto) -> None:
    t = Topics(unique_store())
    events, staff_for_dashboard, staff_for_analyst = Collector(), Collector(), Collector()
    with (
        secured,
        BusClient(_cfg(secured.url, "analyst"), "archive", persistent=False) as analyst,
        BusClient(_cfg(secured.url, "dashboard"), "dash", persistent=False) as dashboard,
        BusClient(_cfg(secured.url, "crm"), "crm", persistent=False) as crm,
        BusClient(_cfg(secured.url, "gateway"), "gw", persistent=False) as gateway,
        BusClient(_cfg(secured.url, "engine"), "run", persistent=False) as engine,
    ):
        # Mosquitto grants the subscription but never delivers what the ACL denies.
        analyst.subscribe(t.staff_alerts, staff_for_analyst)
        analyst.subscribe(t.events_filter, events)
        dashboard.subscribe(t.staff_alerts, staff_for_dashboard)
        gateway.publish(t.event("instore.store.enter"), b'{"forged":true}')  # gateways may not
        engine.publish(t.event("instore.store.enter"), b'{"real":true}')
        crm.publish(t.staff_alerts, b'{"name":"personal"}')
        engine.publish(t.staff_alerts, b'{"name":"forged"}')  # only the CRM lookup may
        assert wait_until(lambda: len(events) >= 1 and len(staff_for_dashboard) >= 1, 5)
        assert not wait_until(lambda: len(events) >= 2 or len(staff_for_dashboard) >= 2, 1.0)
    assert [p for _t, p in events.snapshot()] == [b'{"real":true}']
    assert [p for _t, p in staff_for_dashboard.snapshot()] == [b'{"name":"personal"}']
    assert len(staff_for_analyst) == 0
