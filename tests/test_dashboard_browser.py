"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real
server on a free port. Skipped (saying why) only when Chromium or Playwright is missing."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline import create_app

from .conftest import make_config
from .dashboard_fixtures import MANAGER, PASSWORD, SECRET_NUMBER, WANG, seed

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM}", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str, redis_url: str | None) -> Iterator[str]:
    from werkzeug.serving import make_server

    app = create_app(
        make_config(
            tmp_path,
            sqlite_url,
            redis_url,
            HOTLINE_PUBLIC_URL="http://127.0.0.1",
            HOTLINE_DASHBOARD_CHEAP_HASHES=True,
        )
    )
    seed(sqlite_url)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
    app.extensions["hotline.db"].dispose()


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(base_url=server, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.csp_violations = violations  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-button")


def test_manager_and_counselor_in_the_browser(page: Any) -> None:
    expect = sync_api.expect
    expect.set_options(timeout=15_000)

    # Log in as a manager and filter the call log by the caller's last digits.
    log_in(page, MANAGER)
    expect(page).to_have_url(re.compile(r"/dashboard/calls$"))
    expect(page.locator("#call-table")).to_be_visible()
    expect(page.locator("tr.call-row")).to_have_count(4)
    page.fill("#f-last", "4567")
    page.click("#filter-button")
    expect(page.locator("tr.call-row")).to_have_count(1)
    expect(page.locator("tr.call-row")).to_contain_text("+39 ••• ••• 4567")

    # Open the call; the number is masked until revealed, and revealing it is audited.
    page.locator("tr.call-row a").first.click()
    expect(page.locator("#masked-number")).to_have_text("+39 ••• ••• 4567")
    expect(page.locator("#timeline")).to_contain_text("language_chosen")
    page.click("#reveal")
    expect(page.locator("#revealed-number")).to_have_text(SECRET_NUMBER)
    page.goto("/dashboard/audit")
    expect(page.locator("#audit-table")).to_contain_text("reveal_number")
    expect(page.locator("#audit-table")).to_contain_text(MANAGER)

    # The statistics chart is drawn on the canvas.
    page.goto("/dashboard/stats")
    chart = page.locator("#chart-hour")
    expect(chart).to_have_attribute("data-drawn", "1")
    coloured = chart.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    // the bar colours, not the white background or grey axes
                    if (d[i + 2] > d[i] + 40 || d[i + 1] > d[i] + 40) n++;
                  }
                  return n; }"""
    )
    assert coloured > 100

    # The live board fills itself from the JSON endpoint.
    page.goto("/dashboard/live")
    expect(page.locator("#queues tbody tr")).to_have_count(3)
    expect(page.locator("#counselor-states tbody")).to_contain_text("王敏")

    # Switch to English and back out.
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("Live board")
    page.click("#logout")
    expect(page.locator("#login-button")).to_be_visible()

    # A counselor switches to away with one click.
    log_in(page, WANG)
    expect(page.locator("#my-state")).to_have_text("available")
    page.click("#set-away")
    expect(page.locator("#my-state")).to_have_text("away")
    expect(page.locator("#set-away")).to_be_disabled()
    assert page.csp_violations == []
