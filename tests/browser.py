"""Headless Chromium for the console's browser tests: Debian's ``chromium`` and ``chromium-driver``
(``make deps`` installs them; never ``playwright install``).

A module calls :func:`require_chromium` at import: without the two programs its tests are skipped
on a developer's machine, and fail in CI (``CI`` set), where a skip would hide a missing install
step. :func:`chrome` starts one browser with its own profile; :func:`screenshot` saves a page under
``test-artifacts/browser``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.paths import ROOT

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"  # a player may start without a click


def require_chromium() -> None:
    """Skip the calling module without Chromium (fail in CI, where it must be installed)."""
    if CHROMIUM is not None and CHROMEDRIVER is not None:
        return
    if os.environ.get("CI"):
        raise RuntimeError("chromium and chromium-driver are needed (make deps installs them)")
    pytest.skip("chromium / chromedriver not installed (make deps)", allow_module_level=True)


@contextmanager
def chrome(
    home: Path,
    *,
    window: str = "1280,900",
    wait_s: float = 2.0,
    flags: Sequence[str] = (),
    downloads: Path | None = None,
) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with its profile under ``home``, a ``window`` of "width,height", an
    implicit wait of ``wait_s`` for elements, and files it downloads saved in ``downloads``."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--window-size={window}", f"--user-data-dir={home / 'profile'}", *flags):
        options.add_argument(flag)
    if downloads is not None:
        downloads.mkdir(parents=True, exist_ok=True)
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        if downloads is not None:
            driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
            )
        driver.implicitly_wait(wait_s)
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str, *, folder: str = "") -> Path:
    """Save what the browser shows as ``test-artifacts/browser/<folder>/<name>.png``."""
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
