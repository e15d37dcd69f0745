"""Playwright in Debian's Chromium against the live test server (pytest-django)."""

import importlib
import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# to set up data are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.apps import apps
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# The machine's closed network refuses Chromium's background connections; these flags
# keep it from trying (machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
# A test run leaves the tree clean: screenshots go under var/ unless asked to refresh the
# ones in docs/ui/ (REFRESH_SCREENSHOTS=1 make test-browser).
SCREENSHOTS = (
    ROOT / "docs" / "ui"
    if os.environ.get("REFRESH_SCREENSHOTS") == "1"
    else ROOT / "var" / "screenshots"
)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Browser tests need Debian's chromium (make test installs it).", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fee_schedule(transactional_db):
    # A live-server test empties every table when it ends, the fee schedule seeded by a
    # data migration included; seed it again so no browser test depends on running first.
    importlib.import_module("billing.migrations.0002_seed_fee_schedule").seed(apps, None)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=False)

    return take
