"""Signing in to the dashboard in a real browser (Debian's chromium, headless, via Playwright).

A tablet that never saw the console's link: the page sends it to /login, the store
password opens the dashboard, the Content-Security-Policy lets the page run (no
console errors), and a name carrying HTML is shown as text, never run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from positioning.events import STORE_ENTER, PresenceEvent
from positioning.layout import load_layout
from presence.dashboard.hub import DashboardHub
from presence.dashboard.server import DashboardServer
from presence.dashboard.state import DashboardState, PositionUpdate, StaffAlert

pytestmark = [pytest.mark.browser, pytest.mark.slow]

T0 = 1_790_000_000.0
PASSWORD = "a store passphrase"
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Eve'


def test_password_login_and_a_hostile_name_in_chromium(
    chromium: object, fashion_path: Path
) -> None:
    layout = load_layout(fashion_path)
    state = DashboardState(layout.width_m, layout.height_m, tuple(z.name for z in layout.zones))

    def visit(s: DashboardState) -> None:
        s.apply_event(PresenceEvent(STORE_ENTER, layout.name, "dev-e", T0, T0, 15.0, 1.0))
        s.apply_position(PositionUpdate("dev-e", T0 + 1, 12.0, 6.0))
        s.apply_staff_alert(StaffAlert("dev-e", T0 + 1, HOSTILE_NAME, {"name": HOSTILE_NAME}))

    with DashboardServer(DashboardHub(state), layout, port=0, password=PASSWORD) as server:
        server.hub.update(visit)
        page = chromium.new_page()  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server.base_url + "/")
        assert page.url.endswith("/login")
        page.fill("#password", "not it")
        page.click("button[type=submit]")
        assert "Wrong password" in page.text_content(".login-note")
        errors.clear()  # the 401 of the failed attempt is logged by the browser
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#people .person.named", timeout=10_000)
        assert page.text_content("#people .person.named strong") == HOSTILE_NAME
        assert page.evaluate("window.pwned") is None, "the name was shown, not run"
        assert page.locator("#people img").count() == 0
        page.wait_for_selector("#layer-plan .zone", timeout=5_000)
        assert errors == [], "the page runs under its Content-Security-Policy"
