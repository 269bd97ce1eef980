"""The browser tests' fixtures: ``browser`` and ``page`` (Playwright driving Debian's chromium)."""

from tests.support.browser import browser, page

__all__ = ["browser", "page"]
