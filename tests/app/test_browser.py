"""The web app in a real browser: Playwright drives Debian's Chromium against ``facetrust app`` started by
the test on a free local port. Screenshots go to tests/artifacts/ (ignored by git).

If Chromium or Playwright is missing this test FAILS (it never skips): ``make install-dev`` installs both."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from facetrust.demo import self_blended_astronaut
from facetrust.media.testing import write_image

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
XSS = "<img src=x onerror=alert(1)>"
UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``facetrust app`` on a free port, stopped (SIGTERM, which it forwards to Streamlit) at the end."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    facetrust_cli = shutil.which("facetrust", path=str(Path(sys.executable).parent)) or "facetrust"
    with log.open("wb") as sink:
        process = subprocess.Popen([facetrust_cli, "app", "--port", str(port), "--max-upload-mb", "50"],
                                   stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"facetrust app did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode in (0, 128 + 15, -15), log.read_text(errors="replace")


def test_upload_a_fake_photo_then_a_corrupt_file_in_chromium(app_url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make install-dev` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright  # a missing package fails here, loudly

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    fake = write_image(tmp_path / f"{XSS}.jpg", self_blended_astronaut())  # the demo's fake photo, hostile name
    corrupt = tmp_path / f"{XSS}.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 300)
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(app_url)
            expect(page.get_by_text("Check a face image or video")).to_be_visible(timeout=60_000)

            page.locator(UPLOAD).set_input_files(str(fake))
            answer = page.locator(".st-key-answer")
            expect(answer).to_contain_text(re.compile(r"FAKE 0\.\d\d: the faces in this image look altered"), timeout=120_000)
            expect(answer).to_contain_text(f"file: {XSS}.jpg")  # the name as text, not as an element
            expect(page.locator(".st-key-downloads")).to_be_visible(timeout=120_000)
            gallery = page.locator(".st-key-gallery-1 img")
            expect(gallery).to_have_count(1)
            assert gallery.first.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
            chart = page.locator(".st-key-timeline-1 img")
            expect(chart).to_have_count(1)
            assert chart.first.evaluate("img => img.decode().then(() => img.naturalWidth)") > 400
            expect(page.locator(".st-key-heatmaps img")).to_have_count(1)
            buttons = page.locator(".st-key-downloads button")
            expect(buttons).to_have_count(3)
            for button, label in zip(buttons.all(), ("JSON", "CSV", "HTML report"), strict=True):
                expect(button).to_contain_text(label)
            page.screenshot(path=str(ARTIFACTS / "app_fake_photo.png"), full_page=True)

            with page.expect_download() as download_info:
                page.locator(".st-key-download-html button").click()
            report = tmp_path / "report.html"
            download_info.value.save_as(report)
            assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in report.read_text(encoding="utf-8")
            page.goto(report.as_uri())  # the shared report opened in the browser: no script may run
            expect(page.get_by_text("The faces in this image look altered.")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "report_fake_photo.png"), full_page=True)

            page.goto(app_url)
            expect(page.get_by_text("Check a face image or video")).to_be_visible(timeout=60_000)
            page.locator(UPLOAD).set_input_files(str(corrupt))
            error = page.locator(".st-key-error")
            expect(error).to_contain_text("Cannot analyse this file.", timeout=60_000)
            expect(error).to_contain_text(f"file: {XSS}.mp4")
            expect(page.locator(".st-key-answer")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "app_corrupt_file.png"), full_page=True)

            page.locator(UPLOAD).set_input_files(str(fake))  # still usable after the error
            expect(page.locator(".st-key-answer")).to_contain_text(re.compile(r"FAKE 0\.\d\d"), timeout=120_000)
        finally:
            browser.close()
    assert dialogs == []  # the hostile file name never ran as script, in the app or in the report
