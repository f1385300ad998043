"""The Ray part of a scan: one actor per worker, each loading the detector once, fed a bounded number of files.

Everything Ray-specific lives here; :mod:`facetrust.scan.runner` calls :func:`run_on_ray` and gets the rows
back through a callback, the same way as from the in-process backend.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from facetrust.errors import DependencyError, FacetrustError
from facetrust.scan.rows import INTERNAL_ERROR, WORKER_DIED, analyze_file, error_row

logger = logging.getLogger(__name__)

QUEUE_PER_WORKER = 2  # files handed to a worker at a time: one analysed, one waiting, so it never idles
MAX_REPLACEMENTS = 8  # dead workers replaced before the scan gives up (something kills every worker)


class FileAnalyzer:
    """A Ray actor's body: it loads the face detector and the deepfake detector once (by analysing a blank
    picture), then analyses one file per call with :func:`facetrust.scan.rows.analyze_file`."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        import numpy as np

        import facetrust

        self.options = dict(options)
        # loads and caches both models in this process (facetrust.analyze keeps its pipeline per process);
        # a detector that cannot load fails here, once, not on every file
        facetrust.analyze(np.zeros((64, 64, 3), np.uint8), **self.options)

    def ready(self) -> str:
        """``host:pid`` of this worker, once its models are loaded."""
        import os
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    def analyze(self, path: str, key: str) -> dict[str, Any]:
        return analyze_file(path, key, self.options)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise DependencyError("facetrust scan needs Ray: install the scan extra, pip install 'facetrust[scan]'") \
            from exc
    return ray


@dataclass
class _Worker:
    actor: Any
    queue: deque[tuple[Any, str, str]] = field(default_factory=deque)  # (ref, path, key) in submission order


def run_on_ray(
    todo: Sequence[tuple[str, str]],
    options: Mapping[str, Any],
    on_row: Callable[[dict[str, Any]], None],
    *,
    workers: int | None = None,
    address: str | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    on_ready: Callable[[int], None] | None = None,
    actor_class: type = FileAnalyzer,
) -> int:
    """Analyse ``todo`` (``(path, input_key)`` pairs) on Ray and hand each row to ``on_row`` as it arrives;
    returns the number of workers used.

    Without ``address`` and with Ray not yet started in this process, a local Ray is started with
    ``workers`` CPUs (default: all of this machine's) and shut down at the end; ``address`` (``"auto"``,
    ``"ray://head:10001"``) joins an existing cluster, where ``workers`` defaults to its CPU count. A worker
    that dies (killed, out of memory, crashed decoder) gives its current file a ``WorkerDiedError`` row and
    is replaced; the file that was waiting behind it is tried again on another worker."""
    ray = _ray()
    started_here = False
    if not ray.is_initialized():
        init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            _check_reachable(address)
            init["address"] = address
        else:
            import os

            init["num_cpus"] = max(1, math.ceil(workers * cpus_per_worker)) if workers else os.cpu_count() or 1
        handlers = _stop_handlers()
        try:
            ray.init(**init)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise FacetrustError(f"could not start or join Ray{f' at {address}' if address else ''}: {exc}") \
                from exc
        finally:
            _restore(handlers)
        started_here = True
    pool: list[_Worker] = []
    try:
        if not workers:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
        remote = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0)(actor_class)
        pool.extend(_Worker(remote.remote(options)) for _ in range(workers))
        _wait_ready(ray, pool)
        if on_ready is not None:
            on_ready(workers)
        _dispatch(ray, remote, options, pool, deque(todo), on_row)
        return workers
    finally:
        if started_here:
            ray.shutdown()  # also ends the actors
        else:
            for worker in pool:
                ray.kill(worker.actor)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on: Ray itself retries for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # "auto", or a form Ray resolves itself
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise FacetrustError(f"could not reach a Ray cluster at {address} ({exc}); is `ray start --head` "
                             "running there, and is the port open?") from None


def _stop_handlers() -> dict[int, Any]:
    """The handlers of the stop signals (SIGINT, SIGTERM, SIGHUP) before Ray starts."""
    import signal

    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return {sig: signal.getsignal(sig) for name in names if (sig := getattr(signal, name, None)) is not None}


def _restore(handlers: dict[int, Any]) -> None:
    """Put the stop signals' handlers back. ``ray.init`` installs a crash reporter on SIGTERM that aborts the
    process (exit 134) before the caller can save its work; with the caller's handler back, SIGTERM stops a
    scan as Ctrl-C does, keeping every finished row."""
    import signal

    for sig, handler in handlers.items():
        if handler is None:  # set from C, not from Python: leave it
            continue
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (an embedding application): its handlers are its business
            return


def _blocking(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(...)`` (a blocking Ray call), letting a stop signal through: an exception raised by a Python
    signal handler while Ray's C++ code waits (``Stopped`` for SIGTERM) comes back wrapped in a
    SystemError; it is re-raised as itself, so the scan stops as on Ctrl-C."""
    try:
        return call(*args, **kwargs)
    except SystemError as exc:
        cause = exc.__cause__
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None
        raise


def _wait_ready(ray: Any, pool: list[_Worker]) -> None:
    """Wait until every worker has loaded its models; a worker that cannot is a clear error. Workers that
    the cluster has no room for yet are waited for (an autoscaler may add nodes), with a warning."""
    refs = [w.actor.ready.remote() for w in pool]
    waited = 0.0
    try:
        while True:
            ready, _ = _blocking(ray.wait, refs, num_returns=len(refs), timeout=30.0)
            if len(ready) == len(refs):
                break
            waited += 30.0
            logger.warning("%d of %d scan workers ready after %.0f s (the cluster has %s CPUs free); waiting",
                           len(ready), len(refs), waited, ray.available_resources().get("CPU", 0))
        hosts = _blocking(ray.get, refs)
    except ray.exceptions.RayActorError as exc:
        cause = getattr(exc, "cause", None) or exc
        if isinstance(cause, ray.exceptions.RayTaskError):
            cause = cause.as_instanceof_cause()
        if isinstance(cause, FacetrustError):
            raise type(cause)(str(cause)) from None
        raise FacetrustError(f"a scan worker could not start: {cause}") from None
    logger.info("scan workers ready: %s", ", ".join(hosts))


def _dispatch(ray: Any, remote: Any, options: Mapping[str, Any], pool: list[_Worker],
              pending: deque[tuple[str, str]], on_row: Callable[[dict[str, Any]], None]) -> None:
    owner: dict[Any, _Worker] = {}  # in-flight ref → its worker
    replacements = 0
    while pending or owner:
        for worker in pool:  # top every worker's queue up; at most QUEUE_PER_WORKER files each in flight
            while pending and len(worker.queue) < QUEUE_PER_WORKER:
                path, key = pending.popleft()
                ref = worker.actor.analyze.remote(path, key)
                worker.queue.append((ref, path, key))
                owner[ref] = worker
        done, _ = _blocking(ray.wait, list(owner), num_returns=1, timeout=0.5)
        for ref in done:
            worker = owner.pop(ref, None)
            if worker is None:  # dropped with its dead worker below
                continue
            failure = ""
            try:
                row = _blocking(ray.get, ref)
            except ray.exceptions.RayActorError as exc:
                # the worker died on the oldest file it held (actors run their calls in order); the files
                # queued behind it never started: they get another try, on a fresh worker
                _, path, key = worker.queue[0]
                replacements += 1
                if replacements > MAX_REPLACEMENTS:
                    raise FacetrustError(f"scan workers keep dying ({replacements} so far, the last on {path}: "
                                         f"{exc}); stopping") from None
                for _, later_path, later_key in reversed(list(worker.queue)[1:]):
                    pending.appendleft((later_path, later_key))
                for queued, _, _ in worker.queue:  # their errors, still on their way, are ignored
                    owner.pop(queued, None)
                worker.queue.clear()
                ray.kill(worker.actor)
                worker.actor = remote.remote(options)
                logger.warning("a scan worker died on %s; started another", path)
                on_row(error_row(path, key, WORKER_DIED, f"the worker analysing this file died: {exc}"))
                continue
            except ray.exceptions.RayTaskError as exc:  # analyze_file itself failed (it catches errors): a bug
                row, failure = None, f"{type(exc).__name__}: {exc}"
            index = next(i for i, (r, _, _) in enumerate(worker.queue) if r == ref)
            _, path, key = worker.queue[index]
            del worker.queue[index]
            on_row(row if row is not None else error_row(path, key, INTERNAL_ERROR, failure))


__all__ = ["FileAnalyzer", "run_on_ray"]
