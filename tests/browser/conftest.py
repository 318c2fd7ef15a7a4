"""Browser tests of the hosted pages: Playwright (the Python package) driving Debian's Chromium,
launched by its path (``make system-tools`` installs it; Playwright's own browser download is
not used), against a local stack of their own, with axe-core (``make node-tools``) injected into
every page for the accessibility audit.

Every test module is marked ``browser`` (``pytest -m browser`` runs them alone) and put in the
``browser`` xdist group, so one worker runs them all and they share one stack, one merchant and one
browser; each test gets a fresh browser context (its own sessionStorage and localStorage). A page
that logs a console error (a script error, a refused Content-Security-Policy) fails its test; a
failed request's own "Failed to load resource" line is what an API error looks like there, and is
allowed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.browser.support import Merchant
from tests.localstack import REPO_ROOT, LocalStack, StackFactory

AXE = REPO_ROOT / ".node" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 360, "height": 780}  # the narrowest phone the pages are made for
TIMEOUT_MS = 10_000  # for actions and assertions alike: the stack shares two cores with other tests
ALLOWED_CONSOLE = ("Failed to load resource",)
expect.set_options(timeout=TIMEOUT_MS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium against the local stack (tests/browser)")


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is not installed: run `make system-tools` (Debian's chromium package)")
    return found


@pytest.fixture(scope="session")
def web_stack(local_stack_factory: StackFactory) -> LocalStack:
    """A stack of the browser tests' own: they move its clock and change portal settings."""
    return local_stack_factory()


@pytest.fixture(scope="session")
def merchant(web_stack: LocalStack) -> Merchant:
    return Merchant.sign_up(web_stack)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make node-tools`")
    with sync_playwright() as playwright:
        arguments = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root without it
        launched = playwright.chromium.launch(executable_path=_chromium(), args=arguments)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``open_page(locale="en-GB", width=360)``: a page in a fresh context, axe-core loaded in it;
    its console errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_(locale: str = "en-GB", width: int = VIEWPORT["width"], height: int = VIEWPORT["height"]) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            timezone_id="Europe/Berlin",
        )
        context.set_default_timeout(TIMEOUT_MS)
        # An init script runs through the DevTools protocol, outside the page's CSP: the page under
        # test keeps its real policy, and axe is there to audit it.
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not message.text.startswith(ALLOWED_CONSOLE):
                errors.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, "console errors:\n" + "\n".join(errors)


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    return open_page()
