"""The dashboard in a real browser: Playwright driving the system's Chromium; saves a screenshot.

Skipped when Playwright or /usr/bin/chromium is missing (.ci/run installs both).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from bot import ROOT
from bot.cli.chat import Conversation
from bot.stats import TextAnswered
from bot.web import admin
from tests.test_admin import PASSWORD, counted, dashboard_app, today

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "test-artifacts" / "admin.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--no-default-browser-check"]

pytestmark = pytest.mark.browser


@pytest.fixture
def sync_api():
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_api


@pytest.fixture
def served(config):
    """The line with the dashboard and a few weeks of counts, served on a free loopback port."""
    app = dashboard_app(config, ADMIN_PASSWORD=PASSWORD)
    day = today(app)
    monday = day - dt.timedelta(days=day.weekday())
    weekly = {"motel-card-7": [9, 14, 3, 22, 17, 8, 26, 31], "safe-card": [0, 6, 11, 2, 7, 12, 9, 15],
              "clinic-poster-es": [2, 0, 5, 8, 1, 6, 10, 7], "": [12, 9, 15, 10, 18, 14, 11, 20]}
    topics = ("hotlines", "health", "welcome", "out", "law")
    events = {}
    for campaign, counts in weekly.items():
        for week, n in enumerate(counts):
            if n:
                day_of = monday - dt.timedelta(weeks=len(counts) - 1 - week) + dt.timedelta(days=week % 5)
                topic = topics[(week + len(campaign)) % len(topics)]
                lang = "es" if campaign.endswith("-es") else "en"
                events[TextAnswered(min(day_of, day), campaign, topic, lang, "sms")] = n
    events[TextAnswered(day, "", "report", "es", "whatsapp")] = 3
    counted(app, *events.items())
    Conversation.start(app, sender="+18605550123").send("CARD7")  # one still waiting in memory
    cache = app.extensions["helpline"].directory
    services = admin.services_of(cache.snapshot)
    services[-1] = dataclasses.replace(services[-1], assured_date=day - dt.timedelta(days=212))
    services[-2] = dataclasses.replace(services[-2], assured_date=day - dt.timedelta(days=97))
    cache.snapshot = SimpleNamespace(services=tuple(services), source="database")  # one overdue

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_the_dashboard_renders_its_charts_in_chromium(sync_api, served, tmp_path):
    problems, requests = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(http_credentials={"username": "outreach", "password": PASSWORD},
                                          viewport={"width": 1100, "height": 900}, device_scale_factor=1,
                                          service_workers="block")
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(served + "/admin", wait_until="load")
            assert response is not None and response.status == 200
            assert response.headers["content-security-policy"].startswith("default-src 'none'")

            for chart in ("weekly", "topics", "languages", "channels", "ages"):
                svg = page.locator(f"svg#chart-{chart}")
                box = svg.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 40, chart
                bar = svg.locator("rect.bar, rect.age").first
                bar_box = bar.bounding_box()
                assert bar_box and bar_box["width"] > 0 and bar_box["height"] > 0, chart
                assert svg.locator("title").text_content()
            assert page.get_by_text("CARD7", exact=True).first.is_visible()
            assert page.locator("svg#chart-channels text.label", has_text="all together").first.is_visible()
            assert page.locator("text.value", has_text="<5").count() == 0  # no small count, even as "<5"
            overdue = page.locator("#table-ages tr.stale")
            assert overdue.count() == 1 and "older than 180 days" in overdue.inner_text()
            assert page.locator("#stale-count").inner_text().startswith("1")
            # the hatched fill of a small bar resolved inside the page (nothing fetched for it)
            fill = page.locator("svg#chart-channels rect.small").first.evaluate("r => getComputedStyle(r).fill")
            assert "channels-hatch" in fill

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            context.close()
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    assert problems == []
    assert requests == [served + "/admin"], "the page must load nothing but itself"
