"""The web app as a person times it: from the moment an upload finishes to the answer on the page, in Chromium.

    nice .venv/bin/python benchmarks/bench_app.py [--json benchmarks/results/app_cpu.json] [--screenshots docs/images]

Starts ``facetrust app`` on a free port, opens it in Debian's Chromium (Playwright), and uploads a 10-s 1920×1080
H.264 clip at 25 fps (the self-blended demo face drifting over a texture, made at run time). Measured with the
page's own network events: t0 = the upload request's response arrives (the upload has finished), t1 = the
answer (verdict and probability) is visible, t2 = everything is on the page (gallery, timelines, heatmaps,
downloads). Done twice: on a fresh app (models load on the first request) and again with a second clip of
different bytes (models loaded, nothing cached). ``--screenshots``: the README's two pictures of the app (an
image result: the demo's fake photo; a video result: the clip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
UPLOAD = '[data-testid="stFileUploaderDropzoneInput"]'


def make_clip(path: Path, shift: int = 0) -> Path:
    """10 s of 1080p: the self-blended astronaut (the demo's fake) drifting over a blurred-noise texture."""
    import cv2

    from facetrust.demo import self_blended_astronaut
    from facetrust.media.testing import write_video

    face = cv2.resize(self_blended_astronaut(), (560, 560), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(shift)
    background = cv2.GaussianBlur(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8), (0, 0), 6)
    frames = []
    for i in range(250):
        frame = background.copy()
        x = 300 + shift + int(600 * i / 250)
        frame[220:780, x : x + 560] = face
        frames.append(frame)
    return write_video(path, frames, fps=25, gop=250, options={"preset": "veryfast", "crf": "20"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_app(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "app", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("facetrust app did not start")


def upload_and_time(page, url: str, media: Path) -> dict[str, float]:
    """Upload ``media`` into a fresh page of the app; seconds from the upload's end to the answer and to the
    complete page."""
    page.goto(url)
    page.get_by_text("Check a face image or video").wait_for(timeout=60_000)
    started = time.perf_counter()
    with page.expect_response(lambda r: "/_stcore/upload_file" in r.url and r.request.method == "PUT",
                              timeout=120_000):
        page.locator(UPLOAD).set_input_files(str(media))
    uploaded = time.perf_counter()
    page.locator(".st-key-answer").wait_for(timeout=180_000)
    answered = time.perf_counter()
    page.locator(".st-key-downloads").wait_for(timeout=180_000)
    complete = time.perf_counter()
    verdict = page.locator(".st-key-answer h2").first.inner_text()
    return {"upload_s": round(uploaded - started, 2), "first_result_s": round(answered - uploaded, 2),
            "complete_s": round(complete - uploaded, 2), "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--screenshots", type=Path, help="save the README screenshots into this folder")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from facetrust.demo import self_blended_astronaut
    from facetrust.media.testing import write_image

    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    clip_a, clip_b = make_clip(work / "interview_1080p.mp4"), make_clip(work / "interview_1080p_b.mp4", shift=40)
    photo = write_image(work / "astronaut_selfblended.jpg", self_blended_astronaut())
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start_app(port)
    results: dict[str, object] = {"machine": f"{platform.processor() or platform.machine()}, "
                                             f"{os.cpu_count()} cores", "clip": "10 s 1920x1080 h264 25 fps"}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1900})
            results["fresh_app"] = upload_and_time(page, url, clip_a)
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.screenshots / "app_video_result.png"), full_page=True)
            results["image"] = upload_and_time(page, url, photo)
            if args.screenshots:
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.screenshots / "app_image_result.png"), full_page=True)
            results["warm_app"] = upload_and_time(page, url, clip_b)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    # the same clip through facetrust.analyze in this process (models warm), to separate the app's own cost
    # from the analysis on a machine shared with other work
    import facetrust

    facetrust.analyze(clip_b)
    mark = time.perf_counter()
    facetrust.analyze(clip_b)
    results["analyze_same_clip_s"] = round(time.perf_counter() - mark, 2)
    results["load_average_1_5_15"] = [round(v, 1) for v in os.getloadavg()]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
