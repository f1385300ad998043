"""The bounded worker pool: ``workers`` threads, each claiming the oldest queued job and running
:func:`facetrust.analyze` on it. Threads, not processes: the models are loaded once (facetrust caches its
pipelines) and shared, onnxruntime and PyAV release the GIL, and a killed server takes its analyses with it
(no orphan process writes to the store after a restart).

Progress goes to the store on each ``progress(stage, fraction)`` call; the same call notices a deleted job
(the analysis stops) and a shutdown (the job goes back to the queue). Uploads are deleted after their job as
the retention setting says: at once, or by the :class:`Janitor` later."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import facetrust
from facetrust.service.errors import INTERNAL_ERROR, ServiceError
from facetrust.service.jobs import Job, JobStore, SourceKind
from facetrust.service.settings import ServiceSettings

logger = logging.getLogger(__name__)

Analyze = Callable[..., "facetrust.Report"]
_IDLE_POLL = 0.5  # seconds a worker sleeps when the queue is empty (a new job wakes it at once)


class _JobAbandoned(BaseException):  # noqa: N818 - a stop signal, not an error
    """Raised from the progress callback to stop an analysis whose job was deleted or re-queued.
    A BaseException so no ``except Exception`` inside the library turns it into a failed input."""


class _ShuttingDown(BaseException):  # noqa: N818
    """Raised from the progress callback when the server stops: the job goes back to the queue."""


def scrub(text: str, media_path: str, name: str) -> str:
    """``text`` with the server's storage path replaced by the client's name for the file."""
    return text.replace(media_path, name) if media_path else text


def _scrub_all(value: Any, media_path: str, name: str) -> Any:
    if isinstance(value, str):
        return scrub(value, media_path, name)
    if isinstance(value, list):
        return [_scrub_all(item, media_path, name) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_all(item, media_path, name) for key, item in value.items()}
    return value


def result_entry(report: facetrust.Report, name: str, media_path: str) -> dict[str, Any]:
    """The entry ``facetrust detect --json`` writes for one analysed file, naming the file as the client
    did (``path``, and in every message: warnings, provenance notes) instead of by its server path."""
    return _scrub_all({**report.to_dict(), "path": name, "error": None}, media_path, name)


def failed_entry(name: str, error_type: str, message: str) -> dict[str, Any]:
    """The entry ``facetrust detect --json`` writes for a file that could not be analysed."""
    from facetrust.report.rows import result_entry

    return result_entry(name, None, {"type": error_type, "message": message})


def report_page(report: facetrust.Report) -> str | None:
    """The report as one HTML page (``Report.to_html``), or None when this installation cannot render it."""
    to_html = getattr(report, "to_html", None)
    if to_html is None:
        return None
    html = to_html()
    return html if isinstance(html, str) else None


def remove_media(store: JobStore, job: Job) -> None:
    """Delete an uploaded file (never a server-side path the client named) and record it."""
    if job.source_kind is not SourceKind.upload:
        return
    try:
        os.unlink(job.media_path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # left for the next sweep
        logger.warning("could not delete upload of job %s: %s", job.id, exc)
        return
    store.mark_media_removed(job.id)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


class WorkerPool:
    """``settings.workers`` threads that run queued jobs until :meth:`stop`."""

    def __init__(self, store: JobStore, settings: ServiceSettings, analyze: Analyze | None = None) -> None:
        self.store, self.settings = store, settings
        self._analyze = analyze or facetrust.analyze
        self._threads: list[threading.Thread] = []
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self.warm = threading.Event()  # set once the default detector is loaded (or warm-up is off)
        self.warm_error: str | None = None
        self.started = False

    # ------------------------------------------------------------------------------------------ control

    def start(self) -> None:
        """Warm the models (in the background) and start the worker threads."""
        self.started = True
        if self.settings.warm_up and self.settings.workers:
            threading.Thread(target=self._warm_up, name="facetrust-warm-up", daemon=True).start()
        else:
            self.warm.set()
        for number in range(self.settings.workers):
            thread = threading.Thread(target=self._run, name=f"facetrust-worker-{number + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        """A job was queued: wake an idle worker."""
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers: running jobs go back to the queue at their next progress step."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:  # their jobs stay "running" and are recovered at the next start
            logger.warning("workers still busy at shutdown: %s", ", ".join(alive))

    def alive(self) -> int:
        return sum(thread.is_alive() for thread in self._threads)

    # --------------------------------------------------------------------------------------------- work

    def _warm_up(self) -> None:
        import numpy as np

        try:  # a blank picture runs the whole pipeline once: detector and face detector are loaded and cached
            self._analyze(np.full((64, 64, 3), 128, np.uint8))
        except facetrust.FacetrustError as exc:
            self.warm_error = f"{type(exc).__name__}: {exc}"
            logger.error("the default detector could not be loaded: %s", self.warm_error)
        except Exception as exc:  # a bug: reported by /readyz, never a crashed server
            self.warm_error = f"{type(exc).__name__}: {exc}"
            logger.exception("warming up the detector failed")
        finally:
            self.warm.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim_next()
            except Exception:  # the store is unreadable for a moment (disk full, locked): retry, never die
                logger.exception("could not claim a job")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(_IDLE_POLL)
                continue
            try:
                self.run_job(job)
            except Exception:  # never lose the worker thread
                logger.exception("worker failed on job %s", job.id)

    def run_job(self, job: Job) -> None:
        """Analyse one claimed job and store its outcome."""
        from facetrust.service.uploads import resolve_allowed_path

        options = job.options
        started = time.perf_counter()

        def progress(stage: str, fraction: float) -> None:
            if self._stopping.is_set():
                raise _ShuttingDown
            if not self.store.update_progress(job, stage, fraction):
                raise _JobAbandoned

        try:
            media = job.media_path
            if job.source_kind is SourceKind.path:  # checked again: a symlink may have changed since
                media = str(resolve_allowed_path(self.settings.allow_root, media))
            report = self._analyze(media, frames=options["frames"], detector=options["detector"],
                                   threshold=options["threshold"], progress=progress)
            try:
                html = report_page(report)
            except Exception:  # the JSON result stands; the report endpoint says why there is no page
                logger.exception("rendering the HTML report of job %s failed", job.id)
                html = None
            report_path = None
            if html is not None:
                report_file = self.settings.reports_dir / f"{job.id}.html"
                write_atomically(report_file, html)
                report_path = str(report_file)
            if not self.store.finish(job, result_entry(report, job.source_name, job.media_path), report_path):
                _remove_report(report_path)
                raise _JobAbandoned
            logger.info("job %s done in %.1f s: %s", job.id, time.perf_counter() - started, report.verdict)
        except _JobAbandoned:
            logger.info("job %s was deleted while it ran; its result is dropped", job.id)
            self._discard_upload(job)
            return
        except _ShuttingDown:
            self.store.requeue(job)
            logger.info("job %s goes back to the queue (shutting down)", job.id)
            return
        except (facetrust.FacetrustError, ServiceError) as exc:  # bad input, or a path no longer allowed
            kind = exc.type if isinstance(exc, ServiceError) else type(exc).__name__
            message = scrub(str(exc), job.media_path, job.source_name)
            if self.store.fail(job, kind, message, failed_entry(job.source_name, kind, message)):
                logger.info("job %s failed: %s: %s", job.id, kind, message)
            else:  # deleted meanwhile (its upload with it): nothing to record
                logger.info("job %s was deleted while it ran", job.id)
        except Exception as exc:  # a bug in facetrust: the job fails with the exception's name, the worker lives
            logger.exception("internal error in job %s", job.id)
            message = scrub(f"{type(exc).__name__}: {exc}", job.media_path, job.source_name)
            self.store.fail(job, INTERNAL_ERROR, message, failed_entry(job.source_name, INTERNAL_ERROR, message))
        if self.settings.retention_seconds == 0:
            remove_media(self.store, job)

    def _discard_upload(self, job: Job) -> None:
        if job.source_kind is SourceKind.upload:
            Path(job.media_path).unlink(missing_ok=True)


def _remove_report(report_path: str | None) -> None:
    if report_path is not None:
        Path(report_path).unlink(missing_ok=True)


class Janitor:
    """Deletes uploads ``retention_seconds`` after their job ended, and at start-up the files in ``uploads/``
    that no job refers to (an upload cut off by a crash)."""

    def __init__(self, store: JobStore, settings: ServiceSettings) -> None:
        self.store, self.settings = store, settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def remove_orphans(self) -> int:
        """Delete uploads and reports no job refers to (left by a crash); only safe before the server accepts
        uploads. Returns how many files were deleted."""
        keep = self.store.media_in_use()
        orphans = [p for p in self.settings.uploads_dir.glob("*") if p.is_file() and str(p) not in keep]
        orphans += [p for p in self.settings.reports_dir.glob("*") if p.is_file()
                    and (p.suffix != ".html" or self.store.get(p.stem) is None)]
        for path in orphans:
            path.unlink(missing_ok=True)
        if orphans:
            logger.info("removed %d file(s) no job refers to (uploads or reports cut off by a crash)",
                        len(orphans))
        return len(orphans)

    def sweep(self, now: float | None = None) -> int:
        """Delete the uploads whose retention has passed; returns how many."""
        now = time.time() if now is None else now
        jobs = self.store.media_to_remove(finished_before=now - self.settings.retention_seconds)
        for job in jobs:
            remove_media(self.store, job)
        return len(jobs)

    def start(self) -> None:
        interval = min(60.0, max(1.0, self.settings.retention_seconds / 4))
        self._thread = threading.Thread(target=self._run, args=(interval,), name="facetrust-janitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                logger.exception("retention sweep failed")
