"""Scanner statuses are written on topics every broker user may write (docs/security.md), so
made-up ones must cost the dashboard nothing unbounded (issue 18, finding 6: bounded): at
most MAX_SCANNERS are kept, a new one takes the place of an offline one or is refused, and a
scanner name breaking the id rule is refused with a reason."""

from __future__ import annotations

import json

import pytest

from presence.dashboard.feed import scanner_status_record
from presence.dashboard.state import MAX_SCANNERS, DashboardState
from presence.transport.payloads import PayloadError, encode_status
from presence.transport.topics import scanner_service


def online(device: str, t: float = 100.0) -> bytes:
    scanner = {"device": device, "adapter": "scanning", "since": t, "last_heard": t}
    return encode_status(scanner_service(device), "online", client_id="c", t_s=t, scanner=scanner)


def offline(device: str) -> bytes:
    return encode_status(scanner_service(device), "offline", client_id="c")


def test_a_flood_of_made_up_scanners_is_bounded_and_real_ones_stay() -> None:
    st = DashboardState(12.0, 8.0)
    st.apply_scanner_status(scanner_status_record(online("till")))
    for i in range(5 * MAX_SCANNERS):
        st.apply_scanner_status(scanner_status_record(online(f"fake{i}")))
    assert len(st.scanners) == MAX_SCANNERS and "till" in st.scanners
    assert st.scanners_refused == 4 * MAX_SCANNERS + 1
    st.apply_scanner_status(scanner_status_record(offline("fake0")))
    st.apply_scanner_status(scanner_status_record(online("door")))  # takes fake0's place
    assert "door" in st.scanners and "fake0" not in st.scanners
    assert len(st.snapshot()["scanners"]) == MAX_SCANNERS


@pytest.mark.parametrize("device", ["x" * 129, "a\x1b[2Jb", " lead"])
def test_a_scanner_name_breaking_the_id_rule_is_refused(device: str) -> None:
    payload = json.loads(online("ok"))
    payload["service"] = "scan-" + device
    with pytest.raises(PayloadError) as info:
        scanner_status_record(json.dumps(payload).encode())
    assert info.value.reason == "invalid_id"
