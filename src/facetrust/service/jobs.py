"""The durable job store: one SQLite file in WAL mode, so a job outlives the server process.

A job is ``queued`` → ``running`` → ``done`` or ``failed``. Claiming a job counts an attempt; every later
write names that attempt, so a worker whose job was deleted (or re-queued after a restart) changes nothing.
On start-up :meth:`JobStore.recover` puts jobs left ``running`` by a dead server back in the queue, or marks
them failed once they have used ``max_attempts`` (a file that kills the server is not retried forever)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
JOB_INTERRUPTED = "JobInterrupted"  # error type of a job given up after the server died while running it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    source_kind   TEXT NOT NULL CHECK (source_kind IN ('upload', 'path')),
    source_name   TEXT NOT NULL,   -- what the client called the file; shown, never joined to a path
    media_path    TEXT NOT NULL,   -- the file analysed: a random name under uploads/, or a checked path
    options       TEXT NOT NULL,   -- JSON: frames, detector, threshold
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    stage         TEXT,
    fraction      REAL NOT NULL DEFAULT 0,
    result        TEXT,            -- JSON, the entry ``facetrust detect --json`` writes for this file
    error_type    TEXT,
    error_message TEXT,
    report_path   TEXT,            -- the rendered HTML report, when there is one
    media_removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
"""


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class SourceKind(StrEnum):
    upload = "upload"
    path = "path"


class QueueFullError(Exception):
    """Raised by :meth:`JobStore.submit` when ``queue_limit`` jobs are already waiting."""


@dataclass(frozen=True)
class Job:
    """One row of the store."""

    id: str
    status: JobStatus
    source_kind: SourceKind
    source_name: str
    media_path: str
    options: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    stage: str | None
    fraction: float
    result: dict[str, Any] | None
    error_type: str | None
    error_message: str | None
    report_path: str | None
    media_removed: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            id=row["id"], status=JobStatus(row["status"]), source_kind=SourceKind(row["source_kind"]),
            source_name=row["source_name"], media_path=row["media_path"], options=json.loads(row["options"]),
            created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
            attempts=row["attempts"], stage=row["stage"], fraction=row["fraction"],
            result=json.loads(row["result"]) if row["result"] is not None else None,
            error_type=row["error_type"], error_message=row["error_message"], report_path=row["report_path"],
            media_removed=bool(row["media_removed"]),
        )


class JobStore:
    """Thread-safe access to ``jobs.sqlite3`` (one connection, one lock; WAL, so readers never block)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            raise sqlite3.OperationalError(f"{path}: SQLite could not switch to WAL mode (got {mode})")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses no commit
        self._db.execute("PRAGMA foreign_keys=ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"{path}: job store of schema version {version}, expected {SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` under the lock (rolled back on any error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:  # fetched under the lock: the connection is shared by the threads
            return self._db.execute(sql, args).fetchall()

    def _update(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """Run one statement (autocommit); the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # ------------------------------------------------------------------------------------------- writes

    def submit(self, source_kind: SourceKind, source_name: str, media_path: str, options: dict[str, Any],
               queue_limit: int) -> Job:
        """Queue a new job; :class:`QueueFullError` if ``queue_limit`` jobs already wait (checked atomically)."""
        job_id = uuid.uuid4().hex
        with self._transaction() as db:
            waiting = db.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()[0]
            if waiting >= queue_limit:
                raise QueueFullError(f"{waiting} job(s) already wait (the queue holds {queue_limit})")
            db.execute(
                "INSERT INTO jobs (id, status, source_kind, source_name, media_path, options, created_at) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, str(source_kind), source_name, media_path, json.dumps(options), time.time()),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running (one more attempt) and return it; None when none waits."""
        with self._transaction() as db:
            row = db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY rowid LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, "
                       "stage = NULL, fraction = 0 WHERE id = ?", (time.time(), row["id"]))
            claimed = db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return Job.from_row(claimed)

    def update_progress(self, job: Job, stage: str, fraction: float) -> bool:
        """Record progress of ``job`` (as claimed); False when it is no longer running under that claim."""
        changed = self._update("UPDATE jobs SET stage = ?, fraction = ? WHERE id = ? AND status = 'running' "
                               "AND attempts = ?", (stage, float(fraction), job.id, job.attempts))
        return changed == 1

    def finish(self, job: Job, result: dict[str, Any], report_path: str | None) -> bool:
        """``job`` is done with ``result``; False when it was deleted or re-queued meanwhile."""
        changed = self._update(
            "UPDATE jobs SET status = 'done', finished_at = ?, stage = 'done', fraction = 1, result = ?, "
            "report_path = ?, error_type = NULL, error_message = NULL "
            "WHERE id = ? AND status = 'running' AND attempts = ?",
            (time.time(), json.dumps(result), report_path, job.id, job.attempts),
        )
        return changed == 1

    def fail(self, job: Job, error_type: str, message: str, result: dict[str, Any] | None) -> bool:
        """``job`` failed (its error as type and message); False when it was deleted or re-queued meanwhile."""
        changed = self._update(
            "UPDATE jobs SET status = 'failed', finished_at = ?, error_type = ?, error_message = ?, result = ? "
            "WHERE id = ? AND status = 'running' AND attempts = ?",
            (time.time(), error_type, message, json.dumps(result) if result is not None else None, job.id,
             job.attempts),
        )
        return changed == 1

    def requeue(self, job: Job) -> bool:
        """Put a running ``job`` back in the queue without counting the attempt (a clean shutdown)."""
        changed = self._update(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, started_at = NULL, stage = NULL, "
            "fraction = 0 WHERE id = ? AND status = 'running' AND attempts = ?", (job.id, job.attempts))
        return changed == 1

    def delete(self, job_id: str) -> Job | None:
        """Remove a job (whatever its status) and return it, or None if there is none."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row)

    def mark_media_removed(self, job_id: str) -> None:
        self._update("UPDATE jobs SET media_removed = 1 WHERE id = ?", (job_id,))

    def recover(self, max_attempts: int) -> tuple[list[str], list[str]]:
        """Jobs left ``running`` by a server that died: re-queued, or failed once ``max_attempts`` were used.
        Returns the ids (re-queued, failed)."""
        with self._transaction() as db:
            rows = db.execute("SELECT id, attempts FROM jobs WHERE status = 'running'").fetchall()
            requeued = [r["id"] for r in rows if r["attempts"] < max_attempts]
            failed = [r["id"] for r in rows if r["attempts"] >= max_attempts]
            for job_id in requeued:
                db.execute("UPDATE jobs SET status = 'queued', started_at = NULL, stage = NULL, fraction = 0 "
                           "WHERE id = ?", (job_id,))
            now = time.time()
            for row in rows:
                if row["id"] in failed:
                    message = (f"the server stopped while analysing this file, {row['attempts']} time(s); "
                               "it is not tried again")
                    db.execute("UPDATE jobs SET status = 'failed', finished_at = ?, error_type = ?, "
                               "error_message = ? WHERE id = ?", (now, JOB_INTERRUPTED, message, row["id"]))
        return requeued, failed

    # -------------------------------------------------------------------------------------------- reads

    def get(self, job_id: str) -> Job | None:
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, 0 when none)."""
        rows = self._query("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        found = {row["status"]: row["n"] for row in rows}
        return {status.value: found.get(status.value, 0) for status in JobStatus}

    def queue_position(self, job: Job) -> int | None:
        """1 for the next queued job to run; None when ``job`` is not queued."""
        if job.status is not JobStatus.queued:
            return None
        rows = self._query("SELECT count(*) FROM jobs WHERE status = 'queued' AND rowid <= "
                           "(SELECT rowid FROM jobs WHERE id = ?)", (job.id,))
        return int(rows[0][0]) or None

    def mean_duration(self, last: int = 20) -> float | None:
        """Mean seconds from start to end of the last ``last`` finished jobs; None before the first."""
        rows = self._query("SELECT avg(finished_at - started_at) FROM (SELECT finished_at, started_at FROM jobs "
                           "WHERE status = 'done' AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?)",
                           (last,))
        return float(rows[0][0]) if rows[0][0] is not None else None

    def media_to_remove(self, finished_before: float) -> list[Job]:
        """Finished upload jobs whose media is still on disk and which ended before ``finished_before``."""
        rows = self._query("SELECT * FROM jobs WHERE source_kind = 'upload' AND media_removed = 0 AND "
                           "status IN ('done', 'failed') AND finished_at < ?", (finished_before,))
        return [Job.from_row(row) for row in rows]

    def media_in_use(self) -> set[str]:
        """Media paths of upload jobs whose files must stay (not yet removed by retention)."""
        rows = self._query("SELECT media_path FROM jobs WHERE source_kind = 'upload' AND media_removed = 0")
        return {row["media_path"] for row in rows}
