"""The staff dashboard in a real browser (Debian's chromium, headless, via Playwright).

A publisher walks two shoppers through the fashion store over a real (embedded) broker;
the CRM lookup service sees both: one customer with personalization consent, one
without. The page must draw moving dots, show the consenting customer's alert and
never the other one's name, and keep working across a broker restart.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from positioning.events import STORE_ENTER, PresenceEvent
from positioning.layout import Layout, load_layout
from presence.crm import seed
from presence.crm.schema import customers
from presence.crm.store import CrmStore
from presence.dashboard.app import Dashboard
from presence.services.staff import StaffLookupService
from presence.transport.broker import EmbeddedBroker, start_embedded_broker
from presence.transport.bus import BusClient, BusConfig
from presence.transport.payloads import PositionMessage, encode_event, encode_position
from presence.transport.topics import Topics

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
T0 = 1_790_000_000.0


class Walker:
    """Publishes store.enter for each device, then a position per device every 0.1 s."""

    def __init__(self, bus: BusClient, layout: Layout, devices: list[str]) -> None:
        self.bus, self.layout, self.devices = bus, layout, devices
        self.topics = Topics(layout.name)
        self.stop = threading.Event()
        self.t_s = T0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        for d in self.devices:
            enter = PresenceEvent(STORE_ENTER, self.layout.name, d, T0, T0 + 2.0, 15.0, 1.0)
            self.bus.publish(self.topics.event(STORE_ENTER), encode_event(enter))
        k = 0
        while not self.stop.wait(0.1):
            k += 1
            self.t_s = T0 + 2.0 + k
            for i, d in enumerate(self.devices):
                a = 0.08 * k + 2.0 * i
                x, y = 15.0 + 8.0 * math.cos(a), 10.0 + 5.0 * math.sin(a)
                msg = PositionMessage(self.layout.name, d, self.t_s, x, y, "", 1.5)
                self.bus.publish(self.topics.position(d), encode_position(msg), qos=0)


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    b = start_embedded_broker()
    yield b
    b.close()


def dot_positions(page: object) -> dict[str, str]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#layer-dots .dot", "els => Object.fromEntries(els.map((e, i) => [i, e.style.transform]))"
    )


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def wait_for_js(page: object, expression: str, timeout_s: float) -> None:
    """Poll from Python: Playwright's wait_for_function evaluates its predicate with eval(),
    which the dashboard's CSP (script-src 'self', no 'unsafe-eval') rightly refuses."""
    truth = lambda: bool(page.evaluate(expression))  # type: ignore[attr-defined]  # noqa: E731
    assert wait_until(truth, timeout_s), f"never true: {expression}"


def seeded_crm(tmp_path: Path) -> tuple[CrmStore, str, str]:
    """A CRM where dev-a's owner consents to personalization and dev-b's owner withdrew it."""
    crm = CrmStore(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    config = seed.SeedConfig(
        customers=2,
        seed=5,
        as_of_s=T0 - 86_400,
        store="demo-fashion",
        device_ids=("dev-a", "dev-b"),
    )
    seed.write(crm, seed.generate(config), replace=True)
    names = []
    for device, granted in (("dev-a", True), ("dev-b", False)):
        customer = crm.customer_for_device(device)
        assert customer is not None
        crm.record_consent(customer, "personalization", granted, T0 - 60)
        with crm.engine.connect() as conn:
            query = sa.select(customers).where(customers.c.customer_id == customer)
            row = conn.execute(query).one()
        names.append(f"{row.given_name} {row.family_name}")
    return crm, names[0], names[1]


def test_dashboard_live_in_chromium(
    chromium: object, broker: EmbeddedBroker, fashion_path: Path, tmp_path: Path
) -> None:
    layout = load_layout(fashion_path)
    config = BusConfig(broker.url)
    crm, consenting, refusing = seeded_crm(tmp_path)
    with (
        Dashboard(layout, config, None, port=0) as dash,
        BusClient(config, "test-walker", persistent=False) as bus,
        BusClient(config, "test-lookup", persistent=False) as lookup_bus,
    ):
        StaffLookupService(lookup_bus, crm, layout.name).start()
        walker = Walker(bus, layout, ["dev-a", "dev-b"])
        walker.thread.start()
        page = chromium.new_page(viewport={"width": 1024, "height": 768})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # A CSP violation (inline script or style, a foreign source) is a console error.
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(dash.url)
        assert "token" not in page.url, "the token link is traded for a cookie"
        wait_for_js(page, "document.querySelectorAll('#layer-dots .dot').length === 2", 10.0)
        first = dot_positions(page)
        time.sleep(1.0)
        assert dot_positions(page) != first, "dots move"
        assert page.text_content("#stat-in-store") == "2"
        page.wait_for_selector(f"#people .person.named >> text={consenting}", timeout=10_000)
        page.wait_for_selector(f"#layer-dots .dot.named >> text={consenting}", timeout=5_000)
        assert page.locator("#people .person.named dl.card").count() == 1, "the profile card"
        assert page.locator("#people .person").count() == 2
        assert refusing not in page.content(), "no name without personalization consent"
        assert page.locator("#layer-dots .dot.named").count() == 1
        page.wait_for_selector("#status.status-live", timeout=5_000)

        broker.stop(keep_sessions=True)
        page.wait_for_selector("#status.status-bus", timeout=10_000)
        broker.start()
        page.wait_for_selector("#status.status-live", timeout=20_000)
        before = dot_positions(page)
        assert wait_until(lambda: dot_positions(page) != before, 10.0), (
            "dots move after the restart"
        )
        assert page.locator(f"#people .person.named >> text={consenting}").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(no_sideways_scroll), "fits 1024x768"
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate(no_sideways_scroll), "fits a phone"
        assert page.locator("#map").bounding_box()["width"] > 300
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        walker.stop.set()
        walker.thread.join()
        assert errors == []
    crm.close()
