"""The whole review and takedown flow in a real browser against a real uvicorn server.

Debian's chromium (``make browser``) driven by Playwright; no browser download.
The run also writes docs/screenshots/queue.png and case.png for the README.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from likenessguard.registry.sealing import Sealer, generate_key
from likenessguard.store import review
from likenessguard.store.db import open_catalog
from likenessguard.testing.catalog import make_catalog
from likenessguard.web.app import create_app
from likenessguard.web.settings import WebSettings
from tests.web.conftest import PASSWORD, case_of, cheap_argon2, seed_catalog, seed_users

pytestmark = pytest.mark.browser
__all__ = ["cheap_argon2"]  # the autouse fixture, for this folder too

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


BROWSER_KEY = generate_key()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Engine, Collect, dict[str, int]]]:
    engine = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    make_catalog(engine, 240, seed=11)
    ids = seed_catalog(engine, tmp_path)
    seed_users(engine)
    app = create_app(engine, WebSettings(takedown_poll_s=0.5, requester_key=BROWSER_KEY))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="info", access_log=True, lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    collect = Collect()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(collect)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", engine, collect, ids
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(collect)
        sock.close()
        engine.dispose()


def test_review_and_takedown_flow_in_chromium(
    server: tuple[str, Engine, Collect, dict[str, int]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, engine, access_log, ids = server
    jane = case_of(engine, ids["high"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # sign in
        page.goto(f"{base}/queue")
        expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/queue")

        # work the queue: counts, severity order, keyboard navigation
        expect(page.locator(".counts .sev-high .n")).not_to_have_text("0")
        first = page.locator("tr.row .sev").first
        expect(first).to_have_text("high")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "queue.png"))
        page.keyboard.press("j")
        page.keyboard.press("j")
        expect(page.locator("tr.row.cursor")).to_have_count(1)
        target = page.locator("tr.row.cursor").get_attribute("data-href")
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base}{target}")
        page.go_back()
        page.click("text=Load the next 50 cases")
        expect(page.locator("tr.row")).to_have_count(100)

        # filter to the subject and open the case
        page.fill("#subject-filter", "Jane Roe")
        page.press("#subject-filter", "Enter")
        page.click(f"a[href='/cases/{jane}']")
        expect(page.locator("h1")).to_contain_text(f"Case {jane}")
        expect(page.locator("mark").first).to_have_text("jane_roe")
        expect(page.locator("figure.preview.blurred")).to_have_count(1)
        assert page.locator("figure.preview img").count() == 0  # no original on the page
        page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)

        # reveal the blurred preview (htmx swap), which is logged
        page.click("button.reveal")
        img = page.locator("figure.preview.revealed img")
        expect(img).to_be_visible()
        page.wait_for_function(
            "() => document.querySelector('figure.preview img').naturalWidth > 0"
        )

        # confirm with a policy reason and a note
        page.select_option("#reason", "nonconsensual-sexual-likeness")
        page.fill("#bank", "ncii")
        page.fill("textarea[name=note]", "file name and training tags name her")
        page.click("button[value=confirm]")
        expect(page.locator("h1 .status")).to_have_text("confirmed")
        expect(page.locator(".history")).to_contain_text("file name and training tags name her")

        # the audit line
        page.goto(f"{base}/audit")
        row = page.locator("#audit tbody tr", has_text="case.confirm").first
        expect(row).to_contain_text("admin")
        expect(row).to_contain_text(f"case:{jane}")
        expect(page.locator("#audit tbody tr", has_text="preview.reveal").first).to_be_visible()

        # sign out, then the public takedown flow
        page.click("text=Sign out")
        expect(page).to_have_url(f"{base}/login")
        page.goto(f"{base}/takedown")
        page.fill("textarea[name=names]", "Jane Roe")
        page.fill("textarea[name=handles]", "@janeroe")
        page.fill("input[name=contact]", "jane@example.org")
        page.check("input[name=relation][value=self]")
        page.check("input[name=statement]")
        page.click("button[type=submit]")
        number = page.locator("#td-number").inner_text()
        assert re.fullmatch(r"TD-[0-9A-F]{8}", number)
        page.click("#status-link")
        expect(page.locator("h1")).to_contain_text(number)
        expect(page.locator("#td-state")).to_contain_text("waiting for review")
        # a reviewer accepts it (the review pages are tested in tests/web/test_takedown_review.py)
        (pending,) = review.list_takedowns(engine, Sealer([BROWSER_KEY]))
        reviewer = review.get_user(engine, "reviewer")
        assert reviewer is not None
        review.accept_takedown(engine, Sealer([BROWSER_KEY]), pending.id, reviewer)
        for _ in range(40):  # the background search links the models
            if page.locator("#td-models").count():
                break
            time.sleep(0.25)
            page.reload()
        expect(page.locator("#td-models")).to_contain_text("removal requested")
        status_url = page.url
        page.click("#withdraw")
        expect(page.locator("#withdrawn")).to_be_visible()
        assert not errors, errors  # no script or resource error anywhere in the flow
        page.goto(status_url)  # the link is dead now (a 404 page)
        expect(page.locator("h1")).to_have_text("Not found")
        browser.close()

    assert review.takedown_count(engine) == 0
    token = status_url.rsplit("/", 1)[-1]
    assert any("/takedown/status/[redacted]" in line for line in access_log.lines)
    assert not any(token in line for line in access_log.lines)
    assert not any("jane@example.org" in line for line in access_log.lines)
