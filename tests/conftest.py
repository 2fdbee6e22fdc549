"""Shared fixtures: paths to the reference stores, an MQTT broker URL."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STORES = REPO / "examples" / "stores"

# `instore run` keeps tracking state between restarts (presence/services/runstate.py); the
# tests' runs keep theirs in a directory of this session, never in the user's.
os.environ["INSTORE_STATE_DIR"] = tempfile.mkdtemp(prefix="instore-test-state-")


@pytest.fixture
def fashion_path() -> Path:
    return STORES / "fashion.toml"


@pytest.fixture
def showroom_path() -> Path:
    return STORES / "showroom.toml"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def crm_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty CRM database URL: SQLite, and PostgreSQL (its own schema) when
    INSTORE_TEST_POSTGRES_URL is set (CI sets it, so there it always runs)."""
    from presence.crm.testing import crm_database, postgres_url

    if request.param == "postgresql" and postgres_url() is None:
        pytest.skip("INSTORE_TEST_POSTGRES_URL is not set")
    with crm_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("embedded", marks=pytest.mark.broker),
        pytest.param("mosquitto", marks=pytest.mark.broker),
    ]
)
def mqtt_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A broker URL: a fresh embedded amqtt broker (always), and the Mosquitto named by
    INSTORE_TEST_MQTT_URL (CI sets it; skipped only where it is not set)."""
    if request.param == "embedded":
        from presence.transport.broker import start_embedded_broker

        broker = start_embedded_broker()
        try:
            yield broker.url
        finally:
            broker.close()
        return
    url = os.environ.get("INSTORE_TEST_MQTT_URL")
    if not url:
        pytest.skip("INSTORE_TEST_MQTT_URL is not set (CI sets it to the local Mosquitto)")
    yield url
