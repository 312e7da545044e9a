"""ganvas app end to end: `ganvas app MODEL` serves the page, headless Chromium opens it,
the generated pictures appear and no error does. Needs selenium, chromium and chromedriver
(Debian: apt-get install chromium chromium-driver); skipped without them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tests.helpers import DC, export_random

pytest.importorskip("streamlit")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install "
                                                             "selenium)")

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT = 90            # seconds for the server to answer (a busy 2-core CPU)
PAGE_TIMEOUT = 90             # seconds for the first pictures to arrive
GALLERY = 18                  # the gallery's default seeds 0-17

LOADED_IMAGES = """return Array.from(document.images).filter(
    i => i.complete && i.naturalWidth > 0 && i.src.includes('/media/')).length"""


@pytest.fixture
def browser_paths() -> tuple[str, str]:
    """Chromium and chromedriver, or a skip (before any server is started)."""
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("needs Chromium and chromedriver (apt-get install chromium chromium-driver)")
    return browser, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, server: subprocess.Popen, log) -> None:
    """Until Streamlit answers its health check (fails early if the server died)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ganvas app exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"ganvas app did not start in {START_TIMEOUT} s: {log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """Stop `ganvas app` and its Streamlit child (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    try:                                       # a child that outlived its parent
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def served(tmp_path):
    """`ganvas app` on an untrained 16px model at a free local port -> the page's URL."""
    model = export_random(tmp_path / "model", **DC)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "ganvas", "app", str(model),
                                   "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_healthy(port, server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


@pytest.mark.slow
def test_page_in_a_browser_shows_generated_pictures(browser_paths, served, tmp_path):
    browser, driver_path = browser_paths
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(served)
        deadline = time.monotonic() + PAGE_TIMEOUT
        while driver.execute_script(LOADED_IMAGES) < GALLERY:
            assert time.monotonic() < deadline, "the gallery did not appear"
            time.sleep(0.25)
        shot = tmp_path / "app.png"
        assert driver.save_screenshot(str(shot))
        title = driver.find_element(By.TAG_NAME, "h1").text
        errors = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"], '
                                                       '[data-testid="stAlertContentError"]')
        captions = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stImageCaption"]')
        caption_texts = {c.text for c in captions}
    finally:
        driver.quit()
    assert "ganvas playground" in title
    assert not errors, [e.text for e in errors]
    assert {f"seed {s}" for s in range(GALLERY)} <= caption_texts
    with Image.open(shot) as im:
        assert im.size[0] >= 1000 and np.unique(np.asarray(im.convert("L"))).size > 16
