"""The dashboard's scanner status: decoded from status/scan-<device> messages, kept in the
state, shown without the device id."""

from __future__ import annotations

import json

import pytest

from presence.dashboard.feed import BusFeed, scanner_status_record
from presence.dashboard.hub import DashboardHub
from presence.dashboard.state import DashboardState, ScannerStatus, handle
from presence.testing import MemoryBus
from presence.transport.payloads import PayloadError, encode_status
from presence.transport.topics import Topics, scanner_service

TOPICS = Topics("demo-showroom")


def status(device: str, adapter: str | None, since: float = 100.0, t: float = 100.0) -> bytes:
    scanner = None
    if adapter is not None:
        scanner = {
            "device": device,
            "adapter": adapter,
            "since": since,
            "last_heard": since,
            "problem": "adapter 'hci0' was not found" if adapter == "lost" else "",
        }
    return encode_status(scanner_service(device), "online", client_id="c", t_s=t, scanner=scanner)


def will(device: str) -> bytes:
    return encode_status(scanner_service(device), "offline", client_id="c")


def test_lost_adapter_shows_since_when_and_recovers() -> None:
    st = DashboardState(12.0, 8.0)
    st.apply_scanner_status(scanner_status_record(status("phone", "scanning", 100.0)))
    st.apply_scanner_status(scanner_status_record(status("phone", "lost", 130.5, t=146.0)))
    [view] = st.snapshot()["scanners"]
    assert view["state"] == "lost" and view["since"] == 130.5
    assert "not found" in view["problem"]
    assert view["label"] == "Scanner " + handle("phone", st.key)[:4]
    assert "phone" not in json.dumps(st.snapshot()), "no device id on the page"
    st.apply_scanner_status(scanner_status_record(status("phone", "scanning", 150.0)))
    assert [v["state"] for v in st.snapshot()["scanners"]] == ["scanning"]


def test_a_bare_online_keeps_the_adapter_state_and_a_last_will_is_offline() -> None:
    st = DashboardState(12.0, 8.0)
    st.clock_s = 200.0
    st.apply_scanner_status(scanner_status_record(will("ghost")))
    assert st.snapshot()["scanners"][0]["state"] == "offline", "a scanner gone is shown"
    st.apply_scanner_status(scanner_status_record(status("phone", "lost", 120.0)))
    bare = encode_status(scanner_service("phone"), "online", client_id="c", t_s=125.0)
    st.apply_scanner_status(scanner_status_record(bare))  # the bus client reconnected
    views = {v["id"]: v for v in st.snapshot()["scanners"]}
    phone = views[handle("phone", st.key)]
    assert (phone["state"], phone["since"]) == ("lost", 120.0)
    st.apply_scanner_status(scanner_status_record(will("phone")))
    phone = {v["id"]: v for v in st.snapshot()["scanners"]}[handle("phone", st.key)]
    assert (phone["state"], phone["since"]) == ("offline", 200.0)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        json.dumps(
            {
                "schema": "instore.status/1",
                "service": "scan-x",
                "state": "online",
                "scanner": {"adapter": "melted", "since": 1.0},
            }
        ).encode(),
        json.dumps(
            {
                "schema": "instore.status/1",
                "service": "scan-x",
                "state": "online",
                "scanner": {"adapter": "lost", "since": "noon"},
            }
        ).encode(),
    ],
)
def test_unusable_status_is_refused(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        scanner_status_record(payload)


def test_feed_shows_scanners_only_and_counts_bad_statuses() -> None:
    bus = MemoryBus()
    hub = DashboardHub(DashboardState(12.0, 8.0))
    feed = BusFeed(hub, store=TOPICS.store)
    feed.subscribe(bus, TOPICS)
    bus.publish(TOPICS.status("run"), encode_status("run", "online", client_id="r", t_s=1.0))
    bus.publish(TOPICS.status(scanner_service("phone")), status("phone", "lost", 42.0))
    bus.publish(TOPICS.status(scanner_service("junk")), b"{}")
    [view] = hub.snapshot()["scanners"]
    assert (view["state"], view["since"]) == ("lost", 42.0)
    assert sum(feed.rejected.values()) == 1


def test_scanner_status_record_keys_by_the_service() -> None:
    rec = scanner_status_record(status("tablet-1", "scanning", 5.0, t=6.0))
    assert rec == ScannerStatus("tablet-1", True, "scanning", 5.0, 5.0, "", 6.0)
