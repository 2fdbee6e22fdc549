"""The fake-radio demo on the staff page, in a real browser (Debian's chromium via Playwright):
two people from the shipped radio scripts, the consenting one named; then a scanner whose
adapter vanishes, shown lost on the page. Screenshots go to test-artifacts/.

The page's CSP forbids eval, so Playwright's wait_for_function cannot run there: the test
polls with page.evaluate from Python instead.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from presence.demo.run import Demo, DemoOptions
from presence.testing import free_port

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
SHOWROOM = ROOT / "examples" / "stores" / "showroom.toml"
RADIO = ROOT / "examples" / "radio"


def poll(page: object, script: str, until: Callable[[object], bool], timeout_s: float) -> object:
    """Evaluate ``script`` on the page until ``until`` holds (no eval inside the page)."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = page.evaluate(script)  # type: ignore[attr-defined]
        if until(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout_s:.0f} s: {script} -> {value!r}")


def open_page(chromium: object, demo: Demo, errors: list[str]) -> object:
    page = chromium.new_page(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    assert demo.dashboard_url is not None
    page.goto(demo.dashboard_url)
    return page


PEOPLE = "[...document.querySelectorAll('#people .person')].map(e => e.className)"
SCANNERS = "[...document.querySelectorAll('#scanners .scanner')].map(e => e.textContent)"


def test_two_people_from_radio_scripts_on_the_page(chromium: object, tmp_path: Path) -> None:
    scripts = tuple(str(RADIO / "showroom-two-people" / f"person-{i}.jsonl") for i in (1, 2))
    options = DemoOptions(store=SHOWROOM, source="scan", port=free_port(), script_speed=5.0,
                          fake_advertisements=scripts, workdir=tmp_path / "work")  # fmt: skip
    demo = Demo(options)
    errors: list[str] = []
    try:
        demo.start()
        page = open_page(chromium, demo, errors)
        scanners = poll(page, SCANNERS, lambda v: len(v) == 2, 20)  # type: ignore[arg-type]
        assert all("scanning" in s for s in scanners)  # type: ignore[attr-defined]
        poll(page, PEOPLE, lambda v: any("named" in c for c in v), 120)  # type: ignore[attr-defined]
        # The screenshot is best with both inside; a loaded machine may miss the overlap.
        with contextlib.suppress(AssertionError):
            poll(page, PEOPLE, lambda v: len(v) == 2, 30)  # type: ignore[arg-type]
        time.sleep(1.0)  # let the dots finish their move
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-fake-radio.png"))  # type: ignore[attr-defined]
        assert page.locator("#people .person.named dl.card").count() >= 1  # type: ignore[attr-defined]
        assert "demo-scanner" not in page.content(), "no device id on the page"  # type: ignore[attr-defined]
    finally:
        demo.stop()
    assert errors == []


def test_a_lost_adapter_on_the_page(chromium: object, tmp_path: Path) -> None:
    lines = (RADIO / "showroom-visit.jsonl").read_text().splitlines()
    half = len(lines) // 2
    script = tmp_path / "outage.jsonl"
    outage = json.dumps({"adapter_outage": 6})
    script.write_text("\n".join([*lines[:half], outage, *lines[half:]]) + "\n")
    options = DemoOptions(store=SHOWROOM, source="scan", port=free_port(), script_speed=5.0,
                          fake_advertisements=(str(script),), workdir=tmp_path / "work")  # fmt: skip
    demo = Demo(options)
    errors: list[str] = []
    try:
        demo.start()
        page = open_page(chromium, demo, errors)
        lost = "[...document.querySelectorAll('#scanners .scanner-lost')].map(e => e.textContent)"
        [text] = poll(page, lost, lambda v: len(v) == 1, 90)  # type: ignore[misc]
        assert "adapter lost since" in text and "was not found" in text
        assert page.text_content("#status") == "Scanner offline"  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-scanner-lost.png"))  # type: ignore[attr-defined]
        poll(page, SCANNERS, lambda v: len(v) == 1 and "scanning" in v[0], 60)  # type: ignore[index]
    finally:
        demo.stop()
    assert errors == []
