"""The REST API in-process (FastAPI's TestClient): the whole lifecycle, every error code, progress,
cancellation, retention and recovery."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from facetrust.service import ServiceSettings
from facetrust.service.app import DataDirLockedError, create_app
from facetrust.service.jobs import JobStore

from .helpers import BlockingAnalyze, upload, wait_finished


def uploads_of(client) -> list[Path]:
    return sorted(client.app.state.service.settings.uploads_dir.iterdir())


def assert_error(response, status: int, type_: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == type_ and body["status"] == status and body["message"], body
    return body


# ------------------------------------------------------------------------------------------- lifecycle


@pytest.mark.slow
def test_lifecycle_upload_poll_result_report_delete(make_client, clip: Path, tmp_path: Path) -> None:
    client = make_client()
    accepted = upload(client, clip, "?frames=8")
    assert accepted.status_code == 202
    job = accepted.json()
    assert accepted.headers["location"] == f"/v1/analyses/{job['id']}" == job["links"]["self"]
    assert job["status"] in ("queued", "running") and job["options"] == {"frames": 8, "detector": "default",
                                                                          "threshold": None}
    assert job["source"] == {"kind": "upload", "name": "face clip.mp4"} and job["result"] is None
    stored = uploads_of(client)
    assert len(stored) == 1 and stored[0].name != clip.name and len(stored[0].name) == 32  # a random name

    done = wait_finished(client, job["id"])
    assert done["status"] == "done" and done["error"] is None and done["attempts"] == 1
    assert done["progress"]["stage"] == "done" and done["progress"]["fraction"] == 1.0
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]

    # the result is what `facetrust detect --json` writes for the same file
    from typer.testing import CliRunner

    from facetrust.cli.main import app as cli

    out = tmp_path / "detect.json"
    run = CliRunner().invoke(cli, ["detect", str(clip), "--frames", "8", "--json", str(out)])
    assert run.exit_code == 0, run.output
    expected = json.loads(out.read_text())["results"][0]
    result = done["result"]
    assert result["path"] == "face clip.mp4" and result["verdict"] == "REAL"
    ignore = {"path", "timings", "input_key"}
    assert {k: v for k, v in result.items() if k not in ignore} == {k: v for k, v in expected.items()
                                                                     if k not in ignore}
    assert str(client.app.state.service.settings.data_dir) not in json.dumps(done)  # no server path leaks

    assert uploads_of(client) == []  # retention 0: the upload is gone once the job ends
    report = client.get(f"/v1/analyses/{job['id']}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text.lower() and "REAL" in report.text

    assert client.delete(f"/v1/analyses/{job['id']}").status_code == 204
    assert_error(client.get(f"/v1/analyses/{job['id']}"), 404, "NotFound")
    assert_error(client.get(f"/v1/analyses/{job['id']}/report"), 404, "NotFound")
    assert_error(client.delete(f"/v1/analyses/{job['id']}"), 404, "NotFound")
    assert list(client.app.state.service.settings.reports_dir.iterdir()) == []


def test_a_server_side_path_under_the_allowed_root(make_client, clip: Path, tmp_path: Path) -> None:
    root = tmp_path / "media"
    (root / "in").mkdir(parents=True)
    (root / "in" / "clip.mp4").write_bytes(clip.read_bytes())
    client = make_client(allow_root=root)
    for request in ({"json": {"path": "in/clip.mp4"}}, {"data": {"path": "in/clip.mp4"}},
                    {"files": {"path": (None, "in/clip.mp4")}}):
        accepted = client.post("/v1/analyses?frames=2", **request)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["source"] == {"kind": "path", "name": "in/clip.mp4"}
    done = wait_finished(client, accepted.json()["id"])
    assert done["status"] == "done" and done["result"]["path"] == "in/clip.mp4"
    assert (root / "in" / "clip.mp4").exists()  # a server-side file is never deleted
    assert client.delete(f"/v1/analyses/{done['id']}").status_code == 204
    assert (root / "in" / "clip.mp4").exists()


@pytest.mark.parametrize("attempt", [
    "../secret.mp4", "in/../../secret.mp4", "/etc/passwd", "link out.mp4", "linkdir/secret.mp4",
])
def test_traversal_attempts_are_refused_in_every_body_form(make_client, tmp_path: Path, attempt: str) -> None:
    root = tmp_path / "media"
    (root / "in").mkdir(parents=True)
    (tmp_path / "secret.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    (root / "link out.mp4").symlink_to(tmp_path / "secret.mp4")
    (root / "linkdir").symlink_to(tmp_path)
    client = make_client(allow_root=root, start_workers=False)
    for request in ({"json": {"path": attempt}}, {"data": {"path": attempt}}, {"files": {"path": (None, attempt)}}):
        body = assert_error(client.post("/v1/analyses", **request), 403, "PathNotAllowed")
        assert str(tmp_path) not in body["message"]
    assert client.app.state.service.store.counts()["queued"] == 0


def test_url_encoded_traversal_is_decoded_once_and_refused(make_client, tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    client = make_client(allow_root=root, start_workers=False)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    # a form is URL-decoded once: ..%2Fsecret.mp4 is ../secret.mp4, refused
    assert_error(client.post("/v1/analyses", content=b"path=..%2Fsecret.mp4", headers=headers), 403,
                 "PathNotAllowed")
    # decoded once only: %252F stays %2F, a (missing) name inside the root
    assert_error(client.post("/v1/analyses", content=b"path=..%252Fsecret.mp4", headers=headers), 404,
                 "MediaNotFoundError")
    assert_error(client.post("/v1/analyses", json={"path": "%2e%2e%2fsecret.mp4"}), 404, "MediaNotFoundError")
    # in the URL, an encoded id is just an unknown id
    assert_error(client.get("/v1/analyses/..%2F..%2Fjobs.sqlite3"), 404, "NotFound")
    assert_error(client.get("/v1/analyses/%2e%2e/report"), 404, "NotFound")


# ----------------------------------------------------------------------------------------------- errors


def test_api_keys(make_client, clip: Path) -> None:
    client = make_client(api_keys=("k1", "second-key"), start_workers=False)
    body = assert_error(client.get("/v1/detectors"), 401, "Unauthorized")
    assert "X-API-Key" in body["message"]
    assert client.get("/v1/detectors").headers["www-authenticate"] == "Bearer"
    assert_error(client.get("/v1/detectors", headers={"X-API-Key": "k2"}), 401, "Unauthorized")
    assert_error(upload(client, clip), 401, "Unauthorized")
    assert uploads_of(client) == []  # refused before the body is read
    assert client.get("/v1/detectors", headers={"X-API-Key": "k1"}).status_code == 200
    assert client.get("/v1/detectors", headers={"Authorization": "Bearer second-key"}).status_code == 200
    assert upload(client, clip, headers={"X-API-Key": "k1"}).status_code == 202
    assert client.get("/healthz").status_code == 200  # probes need no key
    assert client.get("/openapi.json").status_code == 200


def test_option_validation(make_client, clip: Path) -> None:
    client = make_client(start_workers=False)
    for query, field in (("?frames=0", "frames"), ("?frames=301", "frames"), ("?frames=abc", "frames"),
                         ("?threshold=1", "threshold"), ("?threshold=0", "threshold"),
                         ("?threshold=nan", "threshold"), ("?detector=", "detector"), ("?frame=8", "frame")):
        body = assert_error(upload(client, clip, query), 422, "ValidationError")
        assert body["details"][0]["location"] == ["query", field], body
    body = assert_error(upload(client, clip, "?detector=defualt"), 400, "UnknownNameError")
    assert "Did you mean 'default'?" in body["message"]
    # a spec path is a detector for the CLI, never over HTTP (it would read server files)
    assert_error(upload(client, clip, "?detector=/etc/passwd.json"), 400, "UnknownNameError")
    assert upload(client, clip, "?frames=300&threshold=0.7&detector=sbi_effnet_lite0").status_code == 202
    assert uploads_of(client).__len__() == 1  # the refused requests left no file


def test_upload_errors(make_client, clip: Path, tmp_path: Path) -> None:
    client = make_client(start_workers=False, max_upload_bytes=4096)
    big = tmp_path / "big.mp4"
    big.write_bytes(clip.read_bytes()[:64] + bytes(10_000))
    assert_error(upload(client, big), 413, "PayloadTooLarge")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    body = assert_error(upload(client, text), 415, "UnsupportedMediaError")
    assert "notes.mp4" in body["message"]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert_error(upload(client, empty), 422, "EmptyMediaError")
    assert_error(client.post("/v1/analyses", content=b"hello", headers={"content-type": "text/plain"}), 415,
                 "UnsupportedMediaType")
    assert_error(client.post("/v1/analyses", content=b"hello"), 415, "UnsupportedMediaType")
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    assert_error(client.post("/v1/analyses", content=b"--xyz\r\nnot a part", headers=multipart), 400,
                 "InvalidRequest")
    assert_error(client.post("/v1/analyses", headers={"content-type": "multipart/form-data"}), 400,
                 "InvalidRequest")
    small = tmp_path / "small.jpg"
    small.write_bytes(b"\xff\xd8\xff" + bytes(100))
    with small.open("rb") as one, small.open("rb") as two:
        assert_error(client.post("/v1/analyses", files=[("file", one), ("file", two)]), 400, "InvalidRequest")
    with small.open("rb") as handle:
        body = assert_error(client.post("/v1/analyses", files={"flie": handle}), 400, "InvalidRequest")
        assert "'flie'" in body["message"]
    with small.open("rb") as handle:
        assert_error(client.post("/v1/analyses", files={"file": handle, "path": (None, "x.mp4")}), 400,
                     "InvalidRequest")
    assert_error(client.post("/v1/analyses", data={"other": "1"}), 422, "ValidationError")
    for body_json in ({"path": 3}, {"path": "a", "x": 1}, [], "a"):
        assert_error(client.post("/v1/analyses", json=body_json), 422, "ValidationError")
    assert_error(client.post("/v1/analyses", content=b"{not json", headers={"content-type": "application/json"}),
                 422, "ValidationError")
    assert_error(client.post("/v1/analyses", json={"path": "x.mp4"}), 403, "PathNotAllowed")  # paths are off
    assert uploads_of(client) == []  # no refused upload leaves a file


def test_an_upload_the_server_cannot_store_is_507(make_client, photo: Path) -> None:
    client = make_client(start_workers=False)
    uploads = client.app.state.service.settings.uploads_dir
    uploads.rmdir()
    uploads.write_text("a file where the uploads folder should be")
    assert_error(upload(client, photo), 507, "InsufficientStorage")
    assert client.app.state.service.store.counts()["queued"] == 0


def test_queue_full_answers_429_with_retry_after(make_client, photo: Path) -> None:
    client = make_client(start_workers=False, queue_size=2)
    first, second = upload(client, photo), upload(client, photo)
    assert (first.json()["progress"]["queue_position"], second.json()["progress"]["queue_position"]) == (1, 2)
    refused = upload(client, photo)
    body = assert_error(refused, 429, "QueueFull")
    assert int(refused.headers["retry-after"]) >= 1 and "retry in" in body["message"]
    assert len(uploads_of(client)) == 2
    assert client.delete(f"/v1/analyses/{first.json()['id']}").status_code == 204
    assert upload(client, photo).status_code == 202  # a place freed up


def test_concurrent_uploads_never_exceed_the_queue(make_client, photo: Path) -> None:
    client = make_client(start_workers=False, queue_size=3)
    codes: list[int] = []

    def send() -> None:
        codes.append(upload(client, photo).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202] * 3 + [429] * 5
    assert len(uploads_of(client)) == 3


def test_not_found_method_and_report_states(make_client, photo: Path, corrupt_clip: Path) -> None:
    client = make_client(start_workers=False)
    assert_error(client.get("/v1/analyses/0123"), 404, "NotFound")
    assert_error(client.get("/v1/nothing"), 404, "NotFound")
    assert_error(client.put("/v1/analyses"), 405, "MethodNotAllowed")
    queued = upload(client, photo).json()
    body = assert_error(client.get(f"/v1/analyses/{queued['id']}/report"), 409, "ReportNotReady")
    assert "queued" in body["message"]


def test_a_file_that_fails_analysis_is_a_failed_job_with_the_library_error(make_client, corrupt_clip: Path) -> None:
    client = make_client()
    job = upload(client, corrupt_clip).json()
    failed = wait_finished(client, job["id"])
    assert failed["status"] == "failed" and failed["error"]["type"] == "CorruptMediaError"
    assert failed["error"]["message"].startswith("corrupt.mp4: ")  # the client's name, not the stored path
    assert failed["result"] == {"path": "corrupt.mp4", "verdict": None, "fake_probability": None,
                                "threshold": None, "people": [], "error": failed["error"]}
    body = assert_error(client.get(f"/v1/analyses/{job['id']}/report"), 404, "ReportUnavailable")
    assert "CorruptMediaError" in body["message"]
    assert uploads_of(client) == []


def test_detectors_health_and_readiness(make_client) -> None:
    waiting = make_client(start_workers=False)
    assert waiting.get("/healthz").json() == {"status": "ok"}
    assert_error(waiting.get("/readyz"), 503, "NotReady")
    names = [d["name"] for d in waiting.get("/v1/detectors").json()["detectors"]]
    assert "default" in names and "sbi_effnet_lite0" in names


def test_readiness_waits_for_the_detector(make_client, tmp_path: Path) -> None:
    import time

    client = make_client(data_dir=tmp_path / "ready", warm_up=True, workers=2)
    deadline = time.monotonic() + 60
    while (response := client.get("/readyz")).status_code != 200:
        assert_error(response, 503, "NotReady")
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert response.json() == {"status": "ready", "workers": 2, "queued": 0, "running": 0}


# ------------------------------------------------------------------------------ progress and cancelling


def test_progress_is_visible_while_a_job_runs(make_client, clip: Path) -> None:
    analyze = BlockingAnalyze()
    client = make_client(analyze=analyze)
    running = upload(client, clip, "?frames=2").json()
    waiting = upload(client, clip, "?frames=2").json()
    assert analyze.started.wait(10)
    status = client.get(f"/v1/analyses/{running['id']}").json()
    assert status["status"] == "running" and status["progress"] == {"stage": "faces", "fraction": 0.5,
                                                                    "queue_position": None}
    queued = client.get(f"/v1/analyses/{waiting['id']}").json()
    assert queued["status"] == "queued" and queued["progress"]["queue_position"] == 1
    analyze.release.set()
    assert wait_finished(client, running["id"])["status"] == "done"
    assert wait_finished(client, waiting["id"])["status"] == "done"


def test_deleting_a_running_job_stops_its_analysis(make_client, clip: Path) -> None:
    analyze = BlockingAnalyze()
    client = make_client(analyze=analyze)
    job = upload(client, clip).json()
    assert analyze.started.wait(10)
    assert client.delete(f"/v1/analyses/{job['id']}").status_code == 204
    assert uploads_of(client) == []
    analyze.release.set()
    for _ in range(200):
        if analyze.stopped_by is not None:
            break
        threading.Event().wait(0.05)
    assert type(analyze.stopped_by).__name__ == "_JobAbandoned"
    assert_error(client.get(f"/v1/analyses/{job['id']}"), 404, "NotFound")
    assert client.app.state.service.store.counts() == {"queued": 0, "running": 0, "done": 0, "failed": 0}


@pytest.mark.slow
def test_a_clean_shutdown_puts_the_running_job_back_in_the_queue(tmp_path: Path, clip: Path) -> None:
    from fastapi.testclient import TestClient

    analyze = BlockingAnalyze()
    settings = ServiceSettings(data_dir=tmp_path / "data", workers=1, warm_up=False)
    with TestClient(create_app(settings, analyze=analyze)) as client:
        job = upload(client, clip, "?frames=2").json()
        assert analyze.started.wait(10)
        threading.Timer(0.3, analyze.release.set).start()  # the worker sees the shutdown at its next step
    assert type(analyze.stopped_by).__name__ == "_ShuttingDown"
    store = JobStore(settings.database)
    again = store.get(job["id"])
    assert again.status.value == "queued" and again.attempts == 0
    store.close()
    with TestClient(create_app(settings)) as client:  # the next start runs it
        assert wait_finished(client, job["id"])["status"] == "done"


# ---------------------------------------------------------------------------- durability and retention


def test_jobs_left_running_by_a_dead_server_are_recovered_at_start(tmp_path: Path, photo: Path) -> None:
    from fastapi.testclient import TestClient

    settings = ServiceSettings(data_dir=tmp_path / "data", workers=1, warm_up=False, max_attempts=2)
    app = create_app(settings, start_workers=False)
    with TestClient(app) as client:
        ids = [upload(client, photo).json()["id"] for _ in range(2)]
        store = app.state.service.store
        store.claim_next()  # as if a worker had started it when the server died
    stray = settings.uploads_dir / ("0" * 32)
    stray.write_bytes(b"half an upload")  # cut off by the crash: no job refers to it
    stray_report = settings.reports_dir / ("1" * 32 + ".html")
    stray_report.write_text("<html>a report whose job was never stored</html>")
    with TestClient(create_app(settings)) as client:
        assert not stray.exists() and not stray_report.exists()
        done = [wait_finished(client, job_id) for job_id in ids]
    assert [d["status"] for d in done] == ["done", "done"]
    assert [d["attempts"] for d in done] == [2, 1]


def test_one_server_per_data_folder(make_client, tmp_path: Path) -> None:
    make_client(start_workers=False)
    with pytest.raises(DataDirLockedError, match="another facetrust serve"):
        create_app(ServiceSettings(data_dir=tmp_path / "data", warm_up=False), start_workers=False)


def test_retention_keeps_uploads_for_the_set_time(make_client, photo: Path) -> None:
    client = make_client(retention_seconds=3600)
    job = upload(client, photo).json()
    assert wait_finished(client, job["id"])["status"] == "done"
    kept = uploads_of(client)
    assert len(kept) == 1
    service = client.app.state.service
    assert service.janitor.sweep() == 0  # not yet
    import time

    assert service.janitor.sweep(now=time.time() + 3601) == 1
    assert uploads_of(client) == [] and service.store.get(job["id"]).media_removed
    assert client.get(f"/v1/analyses/{job['id']}").json()["result"]["verdict"]  # the result stays


def test_the_docs_page_works_offline(make_client) -> None:
    client = make_client()
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs-assets/") for s in sources), sources  # no CDN
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100
    assert client.get("/openapi.json").json()["info"]["title"] == "facetrust"
