"""``facetrust serve`` as a real uvicorn process on a free local port: the lifecycle and errors over HTTP,
and restart recovery after SIGKILL in the middle of a job."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from .helpers import FINISHED, ServerProcess

pytestmark = pytest.mark.slow


def wait_status(server: ServerProcess, job_id: str, wanted: tuple[str, ...], timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/v1/analyses/{job_id}", headers=server.headers, timeout=10).json()
        if body["status"] in wanted:
            return body
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} never reached {wanted}: {body}")


def post_file(server: ServerProcess, path: Path, query: str = "", **kwargs) -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(f"{server.url}/v1/analyses{query}", files={"file": (path.name, handle)},
                          headers=kwargs.pop("headers", server.headers), timeout=30, **kwargs)


def test_lifecycle_errors_keys_and_traversal_over_http(start_server, clip: Path, tmp_path: Path) -> None:
    root = tmp_path / "media"
    (root / "in").mkdir(parents=True)
    (root / "in" / "clip.mp4").write_bytes(clip.read_bytes())
    (tmp_path / "secret.mp4").write_bytes(clip.read_bytes())
    (root / "link out.mp4").symlink_to(tmp_path / "secret.mp4")
    server = start_server("--allow-root", str(root), "--max-upload-mb", "1", "--workers", "1",
                          env={"FACETRUST_API_KEY": "s3cret,other"})
    server.headers = {"X-API-Key": "s3cret"}
    base = server.url

    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/docs").status_code == 200
    assert httpx.get(f"{base}/v1/detectors").json()["type"] == "Unauthorized"
    assert post_file(server, clip, headers={}).status_code == 401
    assert post_file(server, clip, "?frames=1", headers={"Authorization": "Bearer other"}).status_code == 202

    accepted = post_file(server, clip, "?frames=6")
    assert accepted.status_code == 202
    job = wait_status(server, accepted.json()["id"], FINISHED)
    assert job["status"] == "done" and job["result"]["verdict"] == "REAL" and job["result"]["frames_sampled"] == 6
    report = httpx.get(f"{base}/v1/analyses/{job['id']}/report", headers=server.headers)
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]

    by_path = httpx.post(f"{base}/v1/analyses?frames=4", json={"path": "in/clip.mp4"}, headers=server.headers)
    assert by_path.status_code == 202
    assert wait_status(server, by_path.json()["id"], FINISHED)["status"] == "done"

    big = tmp_path / "big.mp4"
    big.write_bytes(clip.read_bytes()[:64] + bytes(3 * 2**20))
    too_big = post_file(server, big)
    assert (too_big.status_code, too_big.json()["type"]) == (413, "PayloadTooLarge")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    assert post_file(server, text).json()["type"] == "UnsupportedMediaError"
    assert httpx.post(f"{base}/v1/analyses?frames=0", json={"path": "in/clip.mp4"},
                      headers=server.headers).json()["type"] == "ValidationError"

    for attempt in ("../secret.mp4", str(tmp_path / "secret.mp4"), "link out.mp4", "in/../../secret.mp4"):
        refused = httpx.post(f"{base}/v1/analyses", json={"path": attempt}, headers=server.headers)
        assert (refused.status_code, refused.json()["type"]) == (403, "PathNotAllowed"), attempt
    form = httpx.post(f"{base}/v1/analyses", content=b"path=..%2Fsecret.mp4", headers={
        **server.headers, "content-type": "application/x-www-form-urlencoded"})
    assert (form.status_code, form.json()["type"]) == (403, "PathNotAllowed")
    for raw_path in ("/v1/analyses/..%2F..%2Fjobs.sqlite3", "/v1/analyses/%2e%2e%2f%2e%2e%2fetc%2fpasswd"):
        response = httpx.get(base + raw_path, headers=server.headers)
        assert (response.status_code, response.json()["type"]) == (404, "NotFound")

    assert httpx.delete(f"{base}/v1/analyses/{job['id']}", headers=server.headers).status_code == 204
    assert httpx.get(f"{base}/v1/analyses/{job['id']}", headers=server.headers).status_code == 404
    assert server.stop() in (0, -15)  # SIGTERM: uvicorn shuts down cleanly, then re-raises the signal
    log = server.log.read_text()
    assert "Application shutdown complete" in log and "s3cret" not in log


def test_a_job_running_when_the_server_is_killed_finishes_after_a_restart(start_server, long_clip: Path,
                                                                         tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("--workers", "1", data_dir=data)
    server.headers = {}
    job_id = post_file(server, long_clip, "?frames=12").json()["id"]
    wait_status(server, job_id, ("running",))
    server.kill()  # SIGKILL in the middle of the analysis
    uploads = list((data / "uploads").iterdir())
    assert len(uploads) == 1  # the upload is kept for the retry

    again = start_server("--workers", "1", data_dir=data)
    again.headers = {}
    finished = wait_status(again, job_id, FINISHED)
    assert finished["status"] == "done" and finished["attempts"] == 2
    assert finished["result"]["verdict"] == "REAL" and finished["result"]["frames_sampled"] == 12
    assert list((data / "uploads").iterdir()) == []
    assert "1 re-queued" in again.log.read_text()


def test_a_job_that_used_its_attempts_is_failed_with_a_reason(start_server, long_clip: Path,
                                                             tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("--workers", "1", "--max-attempts", "1", data_dir=data)
    server.headers = {}
    job_id = post_file(server, long_clip, "?frames=12").json()["id"]
    wait_status(server, job_id, ("running",))
    server.kill()

    again = start_server("--workers", "1", "--max-attempts", "1", data_dir=data)
    again.headers = {}
    failed = wait_status(again, job_id, FINISHED, timeout=5)  # decided at start-up, never "running" forever
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"]["type"] == "JobInterrupted" and "stopped while analysing" in failed["error"]["message"]
    assert list((data / "uploads").iterdir()) == []  # retention 0 applies to failed jobs too
