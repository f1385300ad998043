"""The SQLite job store: durable, atomic queue limits, claims that fence out stale workers, crash recovery."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from facetrust.service.jobs import JOB_INTERRUPTED, JobStatus, JobStore, QueueFullError, SourceKind

OPTIONS = {"frames": 8, "detector": "default", "threshold": None}


def submit(store: JobStore, name: str = "a.mp4", limit: int = 10):
    return store.submit(SourceKind.upload, name, f"/uploads/{name}", OPTIONS, limit)


def test_jobs_survive_reopening_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = submit(store)
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    again = reopened.get(job.id)
    assert again is not None and again.status is JobStatus.queued and again.options == OPTIONS
    assert again.source_name == "a.mp4" and again.attempts == 0
    mode = sqlite3.connect(tmp_path / "jobs.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    reopened.close()


def test_claims_run_oldest_first_and_count_attempts(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    first, second = submit(store, "1.mp4"), submit(store, "2.mp4")
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == first.id
    assert claimed.status is JobStatus.running and claimed.attempts == 1 and claimed.started_at is not None
    assert store.queue_position(store.get(second.id)) == 1
    assert store.claim_next().id == second.id
    assert store.claim_next() is None
    assert store.counts() == {"queued": 0, "running": 2, "done": 0, "failed": 0}


def test_queue_limit_counts_waiting_jobs_only(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    submit(store, limit=2)
    submit(store, limit=2)
    with pytest.raises(QueueFullError):
        submit(store, limit=2)
    store.claim_next()  # one starts running: a place in the queue frees up
    submit(store, limit=2)
    assert store.counts()["queued"] == 2


def test_queue_limit_holds_under_concurrent_submits(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    accepted, refused = [], []

    def client(number: int) -> None:
        try:
            accepted.append(submit(store, f"{number}.mp4", limit=5))
        except QueueFullError:
            refused.append(number)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 5 and len(refused) == 15
    assert store.counts()["queued"] == 5


def test_a_stale_claim_cannot_write(tmp_path: Path) -> None:
    # a worker of a dead server (its job recovered and claimed again) or of a deleted job changes nothing
    store = JobStore(tmp_path / "jobs.sqlite3")
    submit(store)
    stale = store.claim_next()
    store.recover(max_attempts=3)  # as at the next start-up
    current = store.claim_next()
    assert current.id == stale.id and current.attempts == stale.attempts + 1
    assert not store.update_progress(stale, "faces", 0.5)
    assert not store.finish(stale, {"verdict": "REAL"}, None)
    assert not store.fail(stale, "X", "x", None)
    assert store.get(stale.id).status is JobStatus.running and store.get(stale.id).stage is None
    assert store.finish(current, {"verdict": "REAL"}, None)

    job = submit(store, "b.mp4")
    running = store.claim_next()
    assert running.id == job.id
    assert store.delete(job.id) is not None
    assert not store.update_progress(running, "faces", 0.5)
    assert not store.finish(running, {"verdict": "REAL"}, None)
    assert store.get(job.id) is None


def test_a_clean_requeue_does_not_count_the_attempt(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    submit(store)
    first = store.claim_next()
    assert store.requeue(first)
    again = store.get(first.id)
    assert again.status is JobStatus.queued and again.attempts == 0 and again.started_at is None


def test_recover_requeues_running_jobs_then_fails_them_after_max_attempts(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    done = submit(store, "done.mp4")
    store.finish(store.claim_next(), {"verdict": "REAL"}, None)
    job = submit(store)
    for attempt in (1, 2):
        claimed = store.claim_next()
        assert claimed.id == job.id and claimed.attempts == attempt
        store.close()  # the server dies with the job running
        store = JobStore(path)
        requeued, failed = store.recover(max_attempts=2)
        if attempt == 1:
            assert requeued == [job.id] and failed == []
            assert store.get(job.id).status is JobStatus.queued and store.get(job.id).stage is None
        else:
            assert requeued == [] and failed == [job.id]
    final = store.get(job.id)
    assert final.status is JobStatus.failed and final.error_type == JOB_INTERRUPTED
    assert "2 time(s)" in final.error_message and final.finished_at is not None
    assert store.get(done.id).status is JobStatus.done  # finished jobs are left alone
    assert store.recover(max_attempts=2) == ([], [])


def test_progress_and_results_round_trip(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    submit(store)
    job = store.claim_next()
    assert store.update_progress(job, "faces", 0.25)
    assert (store.get(job.id).stage, store.get(job.id).fraction) == ("faces", 0.25)
    assert store.finish(job, {"verdict": "FAKE", "people": [{"person": 1}]}, "/r.html")
    done = store.get(job.id)
    assert done.status is JobStatus.done and done.result["people"] == [{"person": 1}]
    assert done.report_path == "/r.html" and done.fraction == 1.0 and done.stage == "done"
    assert store.mean_duration() is not None and store.mean_duration() >= 0


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    sqlite3.connect(path).execute("PRAGMA user_version=99")
    with pytest.raises(sqlite3.DatabaseError, match="schema version 99"):
        JobStore(path)
