"""The whole app in a real browser: `refloop dashboard` serves it, headless
Chromium (Debian's, driven by Playwright) opens every page, no page shows an
error, and a screenshot of each is kept (tests/artifacts/screenshots)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.paths import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
PAGES = {"": "Overview", "leakage": "Leakage", "turnaround": "Turnaround", "program": "Program ROI", "outreach": "Outreach",
         "cms50": "CMS50", "queue": "Referral queue", "quality": "Data quality"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(warehouse, port: int, *options: str) -> tuple[subprocess.Popen, str]:
    """`refloop dashboard` on `port`, once it answers its health check."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "dashboard", "--warehouse", str(warehouse),
         "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    pytest.fail(f"the dashboard did not start: {process.stdout.read().decode()[-2000:]}")


@pytest.fixture(scope="module")
def server(built_warehouse):
    process, url = start_dashboard(built_warehouse.warehouse, free_port(), "--coordinator-access")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_stopping_the_dashboard_command_stops_its_server(built_warehouse):
    """SIGTERM to `refloop dashboard` (what a service manager or a test sends)
    stops the Streamlit server it started: nothing answers on the port after."""
    port = free_port()
    process, _ = start_dashboard(built_warehouse.warehouse, port)
    process.terminate()
    assert process.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            break
        assert time.monotonic() < deadline, f"a server still answers on port {port}"
        time.sleep(0.2)


def test_every_page_loads_in_chromium_without_errors(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title in PAGES.items():
            page.goto(f"{server}/{path}", wait_until="networkidle", timeout=60_000)
            page.wait_for_selector("h1", timeout=60_000)
            page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
            page.wait_for_timeout(1500)  # charts finish drawing
            assert page.locator("h1").first.inner_text().startswith(title)
            assert page.locator('[data-testid="stException"]').count() == 0, f"error on /{path}"
            assert page.locator("text=Traceback").count() == 0
            page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"))
        # a shared link reproduces the view: the filters come from the URL
        page.goto(f"{server}/?from=2026-01&to=2026-03&group=cardiology", wait_until="networkidle")
        page.wait_for_selector("h1")
        page.wait_for_timeout(1500)
        assert "Jan 2026 - Mar 2026" in page.locator("text=As of").first.inner_text()
        assert "cardiology" in page.locator("text=As of").first.inner_text()
        browser.close()
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(PAGES)
