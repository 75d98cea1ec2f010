"""Browser tests: Playwright driving Debian's /usr/bin/chromium (never a downloaded browser).

Where the machine has no Chromium the tests are skipped with a message, unless
POSTLOAN_REQUIRE_BROWSER is set (CI sets it), in which case they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("POSTLOAN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Playwright's sync API runs an event loop in this thread; the live server's
# database work happens in its own thread, so Django's async guard is moot here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        # A transactional test flushes every table when it ends, the rows that data migrations seeded
        # (industries, the business calendar) included, so the next browser test would start without them.
        # Serialized rollback puts them back before each browser test, whatever the order the tests run in.
        marker = item.get_closest_marker("django_db")
        if (here in item.path.resolve().parents and marker is not None and marker.kwargs.get("transaction")
                and "serialized_rollback" not in marker.kwargs):
            item.add_marker(pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True))
    if Path(CHROMIUM).exists():
        return
    message = (f"browser tests need Chromium at {CHROMIUM}: install Debian's packages "
               "(sudo apt-get install chromium fonts-wqy-microhei) to run them")
    if os.environ.get("POSTLOAN_REQUIRE_BROWSER"):
        raise pytest.UsageError(message)
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=message))


@pytest.fixture(scope="session")
def browser():
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API marks an event loop as running in this thread, and from then on Django's connections
    # (an asgiref Local) are a new set, apart from those opened before. When the test database was set up before
    # (other tests ran first), carry over what the setup left on its connection: the contents that serialized
    # rollback restores.
    serialized = {conn.alias: conn._test_serialized_contents for conn in connections.all(initialized_only=True)
                  if hasattr(conn, "_test_serialized_contents")}
    with sync_playwright() as pw:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
