"""The timeline page in a real browser (the system's Chromium, driven by Playwright), served
by `timeline serve` on the seed dossier, on both backends: what a reader sees on a date,
what changed between two dates and why, a correction arriving, the keyboard alone, and an
accessibility check (axe-core). Each state is saved as a screenshot in `$TIMELINE_ARTEFACTS`
(default `artefacts/page`)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import database
from tests.e2e.conftest import DOSSIER
from tests.serving import Server, serving
from timeline.interfaces.cli import main

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
ARTEFACTS = Path(os.environ.get("TIMELINE_ARTEFACTS", "artefacts/page"))


def _chromium() -> str:
    """The system's Chromium (browser downloads are not used); skipped where there is
    none, except in CI, where the page must be tested."""
    found = os.environ.get("TIMELINE_CHROMIUM") or shutil.which("chromium")
    if found is None:
        reason = "no Chromium: install the chromium package or set TIMELINE_CHROMIUM"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI requires a browser for the page tests: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[playwright.Page]:
    opened = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    opened.on("pageerror", lambda err: errors.append(str(err)))
    yield opened
    opened.close()
    assert not errors, errors


def _open(page: playwright.Page, server: Server, query: str) -> None:
    page.goto(f"{server.url}/?dossier={DOSSIER}&{query}")
    _settled(page)


def _settled(page: playwright.Page) -> None:
    """Wait until the page says what it shows (or what failed)."""
    status = page.locator("#status")
    playwright.expect(status).to_have_text(re.compile(r"^(As of|Error)"), timeout=30_000)
    assert not status.inner_text().startswith("Error"), status.inner_text()


def _shot(page: playwright.Page, request: pytest.FixtureRequest, state: str) -> None:
    """A screenshot of the page in `state`, named for the test and its backend."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    page.screenshot(path=str(ARTEFACTS / f"{test}-{state}.png"), full_page=True)


def _position(page: playwright.Page, actor: str) -> dict[str, str]:
    """The positions table's row of `actor`, by column heading."""
    headings = page.locator("#positions thead th").all_inner_texts()
    row = page.locator("#positions tbody tr", has=page.locator("td", has_text=actor)).first
    return dict(zip(headings, row.locator("td").all_inner_texts(), strict=True))


def test_on_20_january_germany_waits_for_the_us_and_the_uk_is_committed(
    server: Server, page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    _open(page, server, "as_of=2023-01-20")
    germany = _position(page, "DEU")
    assert germany["Stance"] == "conditional"
    assert "USA" in germany["Condition"]
    assert "(unmet)" in germany["Condition"]
    assert _position(page, "GBR")["Stance"] == "committed"
    lane = page.locator('#lanes g.lane[data-actor="DEU"]')
    assert "conditional, if USA pledges M1 Abrams (unmet)" in (
        lane.get_attribute("aria-label") or ""
    )
    _shot(page, request, "as-of-2023-01-20")


def test_on_26_january_both_are_committed_and_59_tanks_pledged(
    server: Server, page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    _open(page, server, "as_of=2023-01-26")
    germany = _position(page, "DEU")
    assert germany["Stance"] == "committed"
    assert "(met)" in germany["Condition"]
    assert _position(page, "USA")["Stance"] == "committed"
    poland = page.locator("#requests tbody tr", has=page.locator("td", has_text="POL"))
    assert poland.locator("td").all_inner_texts()[3] == "approved"
    tanks = page.locator("#totals tbody tr", has=page.locator("td", has_text="main-battle-tank"))
    assert tanks.locator("td").all_inner_texts()[1] == "59"
    chart = page.locator('#totals-chart g.total[data-category="main-battle-tank"]')
    assert "59 pledged, 0 delivered from 2023-01-25" in (chart.get_attribute("aria-label") or "")
    _shot(page, request, "as-of-2023-01-26")


def test_what_changed_names_the_events_that_caused_it(
    server: Server, page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    _open(page, server, "as_of=2023-01-26&from=2023-01-20&to=2023-01-26")
    germany = page.locator("#changes li", has_text="DEU · Western main battle tanks").first
    text = germany.inner_text()
    assert "conditional → committed" in text
    assert "usa-pledge-abrams" in text
    assert "deu-pledge-leopard-2a6" in text
    link = germany.locator("a", has_text="usa-pledge-abrams")
    link.click()
    target = page.locator(":target")
    assert "usa-pledge-abrams" in target.inner_text()
    _shot(page, request, "changed-2023-01-20-to-26")


def test_the_url_holds_the_view_and_the_keyboard_alone_drives_it(
    server: Server, page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    _open(page, server, "as_of=2023-01-20")
    lines = "[...document.querySelectorAll('line.as-of')].map((l) => l.getAttribute('x1'))"
    before = page.evaluate(lines)
    page.locator("#as-of").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2023-01-26")
    page.keyboard.press("Tab")  # the slider
    page.keyboard.press("Tab")  # known at
    assert page.evaluate("document.activeElement.id") == "known-at"
    page.keyboard.press("Enter")  # submits the form
    playwright.expect(page.locator("#as-of-label")).to_have_text("2023-01-26")
    _settled(page)
    assert _position(page, "DEU")["Stance"] == "committed"
    assert "as_of=2023-01-26" in page.url
    after = page.evaluate(lines)  # a move of the date moves the as-of line on every chart
    assert len(after) == len(before) >= 3
    assert len(set(after)) == 1
    assert float(after[0]) > float(before[0])
    assert page.context.browser is not None
    again = page.context.browser.new_page()
    again.goto(page.url)
    _settled(again)
    assert _position(again, "DEU")["Stance"] == "committed"
    again.goto(f"{server.url}/?dossier={DOSSIER}&issue=mbt-for-ukraine&actor=DEU&as_of=2023-01-20")
    _settled(again)
    assert again.locator("#issue").input_value() == "mbt-for-ukraine"
    assert "issue=mbt-for-ukraine" in again.url
    actors = again.locator("#positions tbody tr td:first-child").all_inner_texts()
    assert actors == ["DEU"]
    again.close()


def test_no_serious_accessibility_violations(
    server: Server, page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    _open(page, server, "as_of=2023-01-20&from=2023-01-20&to=2023-01-26")
    found = Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"]) for v in found if v["impact"] in ("serious", "critical")]
    assert serious == []


CORRECTED = """\
dossier: corrected-pledge
title: A pledge corrected
items:
  leopard-2a6: {name: Leopard 2A6, category: main-battle-tank}
issues:
  tanks: Tanks for Ukraine
sources:
  s: {publisher: Wire, published: 2023-01-25}
events:
  - key: deu-pledge
    type: pledge.announced
    occurred: 2023-01-25
    donor: DEU
    recipient: UKR
    issue: tanks
    item: leopard-2a6
    quantity: 10
    sources: [{cite: s, quote: "ten tanks"}]
  - key: deu-delivery
    type: delivery.reported
    occurred: 2023-03-27
    donor: DEU
    recipient: UKR
    item: leopard-2a6
    quantity: 4
    sources: [{cite: s, quote: "the first four have arrived"}]
"""
CORRECTION = """\
dossier: corrected-pledge
sources:
  s: {publisher: Wire, published: 2023-01-27}
events:
  - key: deu-pledge-fixed
    type: event.corrected
    occurred: 2023-01-27
    corrects: deu-pledge
    changes: {quantity: 14}
    sources: [{cite: s, quote: "fourteen, not ten"}]
"""


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server on a dossier whose pledge was corrected after it was first recorded, and a
    moment between the two recordings."""
    folder = tmp_path_factory.mktemp("corrected")
    (folder / "first.yaml").write_text(CORRECTED, "utf-8")
    (folder / "fix.yaml").write_text(CORRECTION, "utf-8")
    with database("sqlite", tmp_path_factory) as url:
        assert main(["init", "--db", url]) == 0
        assert main(["import", "--db", url, str(folder / "first.yaml")]) == 0
        time.sleep(0.01)
        between = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        time.sleep(0.01)
        assert main(["import", "--db", url, str(folder / "fix.yaml")]) == 0
        with serving(url) as running:
            yield running, between


def test_known_at_shows_a_correction_arriving(
    corrected: tuple[Server, str], page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    server, between = corrected
    page.goto(f"{server.url}/?dossier=corrected-pledge&as_of=2023-01-31&known_at={between}")
    _settled(page)
    tanks = page.locator("#totals tbody tr", has=page.locator("td", has_text="main-battle-tank"))
    assert tanks.locator("td").all_inner_texts()[1] == "10"
    _shot(page, request, "known-before-the-correction")
    page.locator("#known-at").fill("")
    page.locator("#controls button").click()
    playwright.expect(tanks.locator("td").nth(1)).to_have_text("14")
    _settled(page)
    fact = page.locator("#facts li", has_text="deu-pledge")
    assert "corrected by deu-pledge-fixed" in fact.inner_text()
    _shot(page, request, "known-after-the-correction")


def test_what_was_delivered_is_drawn_beside_what_was_pledged(
    corrected: tuple[Server, str], page: playwright.Page, request: pytest.FixtureRequest
) -> None:
    server, _ = corrected
    page.goto(f"{server.url}/?dossier=corrected-pledge&as_of=2023-03-31")
    _settled(page)
    tanks = page.locator("#totals tbody tr", has=page.locator("td", has_text="main-battle-tank"))
    assert tanks.locator("td").all_inner_texts()[1:] == ["14", "1", "0", "4"]
    chart = page.locator('#totals-chart g.total[data-category="main-battle-tank"]')
    label = chart.get_attribute("aria-label") or ""
    assert "14 pledged, 0 delivered from 2023-01-25" in label
    assert "14 pledged, 4 delivered from 2023-03-27" in label
    assert chart.locator("path.step.delivered").count() == 1
    _shot(page, request, "delivered-beside-pledged")
