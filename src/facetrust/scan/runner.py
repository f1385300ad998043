"""Scan a corpus: skip what the output already holds, analyse the rest (on Ray, or in this process), write each
row as it arrives, and sum it up."""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError, UnknownNameError
from facetrust.scan.rows import analyze_file
from facetrust.scan.store import open_store

logger = logging.getLogger(__name__)

RowCallback = Callable[[dict[str, Any]], None]


@dataclass
class ScanSummary:
    """What a scan did; filled in while it runs, so an interrupted scan still has an accurate one."""

    out: str
    inputs: int = 0  # files given (after removing duplicates)
    skipped: int = 0  # already in the output, from an earlier run
    analysed: int = 0  # rows written by this run (error rows included)
    failed: int = 0  # error rows written by this run
    verdicts: dict[str, int] = field(default_factory=dict)  # this run's rows by verdict
    errors: dict[str, int] = field(default_factory=dict)  # this run's error rows by error type
    workers: int = 0  # Ray workers (0: analysed in this process)
    backend: str = ""  # "ray" or "in-process" once the workers are ready; "" before
    startup_seconds: float = 0.0  # until every worker had loaded its models
    seconds: float = 0.0  # the whole run
    interrupted: bool = False  # stopped by Ctrl-C or a signal

    @property
    def remaining(self) -> int:
        return self.inputs - self.skipped - self.analysed

    @property
    def files_per_hour(self) -> float | None:
        """Files analysed per hour of this run's wall time (start-up included); None before any."""
        return round(self.analysed / self.seconds * 3600, 1) if self.analysed and self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "remaining": self.remaining, "files_per_hour": self.files_per_hour}

    def text(self) -> str:
        """A few human lines, e.g. for the end of ``facetrust scan``."""
        where = {"ray": f"on {self.workers} Ray worker(s)", "in-process": "in this process"}.get(self.backend, "")
        rate = f", {self.files_per_hour:,.0f} files/hour" if self.files_per_hour else ""
        stop = "interrupted: " if self.interrupted else ""
        if self.analysed or self.remaining:
            startup = f" (start-up {self.startup_seconds:.1f} s)" if self.backend == "ray" else ""
            lines = [f"{stop}analysed {self.analysed} file(s) in {self.seconds:.1f} s {where}".rstrip()
                     + f"{rate}{startup}"]
        else:
            lines = [f"{stop}nothing to analyse"]
        if self.verdicts or self.errors:
            counts = [f"{label} {n}" for label, n in sorted(self.verdicts.items())]
            counts += [f"{kind} {n}" for kind, n in sorted(self.errors.items())]
            lines.append("  " + ", ".join(counts))
        if self.skipped:
            lines.append(f"  {self.skipped} file(s) skipped: already in {self.out} from an earlier run")
        if self.remaining:
            lines.append(f"  {self.remaining} file(s) not analysed yet: run the same command again to resume")
        return "\n".join(lines)


def _analyze_option_names() -> tuple[str, ...]:
    import facetrust

    return tuple(name for name in inspect.signature(facetrust.analyze).parameters
                 if name not in ("source", "progress"))


def check_analyze_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as keyword arguments of :func:`facetrust.analyze` (unknown names: :class:`UnknownNameError`).
    Values are checked by ``analyze`` itself, in each worker."""
    names = _analyze_option_names()
    for name in options:
        if name not in names:
            raise UnknownNameError("analyze option", name, names)
    return dict(options)


class CorpusScan:
    """One scan of many files into one output (``.parquet`` folder or ``.jsonl`` file).

    ``workers``: Ray workers (one actor each, loading the models once); ``None`` = one per CPU of this
    machine or of the cluster; ``0`` = no Ray, one file after the other in this process. ``address``: join an
    existing Ray cluster (``"auto"``, ``"ray://head:10001"``). ``by_content``: recognise finished files by the
    sha256 of their bytes instead of resolved path + size + modification time. ``overwrite``: start a fresh
    output instead of resuming. ``analyze_options``: passed to :func:`facetrust.analyze` for every file.

    If :meth:`run` is interrupted (Ctrl-C) it stops the workers, keeps every finished row and re-raises;
    :attr:`summary` then says how far it got.
    """

    def __init__(self, out: str | os.PathLike[str], *, workers: int | None = None, address: str | None = None,
                 by_content: bool = False, overwrite: bool = False, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0, rows_per_part: int = 1000, seconds_per_part: float = 60.0,
                 **analyze_options: Any) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
            raise ConfigError(f"workers must be None or an integer >= 0, got {workers!r}")
        if workers == 0 and address:
            raise ConfigError("workers=0 analyses in this process; it cannot be combined with a Ray address")
        if not cpus_per_worker > 0 or gpus_per_worker < 0:
            raise ConfigError("cpus_per_worker must be > 0 and gpus_per_worker >= 0")
        self.out = Path(out)
        self.workers, self.address = workers, address
        self.by_content, self.overwrite = by_content, overwrite
        self.cpus_per_worker, self.gpus_per_worker = cpus_per_worker, gpus_per_worker
        self.rows_per_part, self.seconds_per_part = rows_per_part, seconds_per_part
        self.options = check_analyze_options(analyze_options)
        self.summary = ScanSummary(out=str(self.out))

    def run(self, paths: Iterable[str | os.PathLike[str]], *, on_start: Callable[[int, int], None] | None = None,
            on_ready: Callable[[int], None] | None = None, on_row: RowCallback | None = None) -> ScanSummary:
        """Analyse every file of ``paths`` that the output does not hold yet.

        Callbacks: ``on_start(to_do, skipped)`` once the output is read, ``on_ready(workers)`` once the workers
        have loaded their models, ``on_row(row)`` after each row is on disk."""
        from facetrust.report.rows import input_key  # the key `detect --resume` uses (stdlib only)

        started = time.perf_counter()
        summary = self.summary = ScanSummary(out=str(self.out))
        keyed: dict[str, str] = {}
        for item in paths:
            absolute = os.path.abspath(os.fspath(item))  # workers (maybe on other nodes) get absolute paths
            keyed.setdefault(input_key(Path(absolute), self.by_content), absolute)  # first of duplicates
        summary.inputs = len(keyed)
        verdicts: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        with open_store(self.out, overwrite=self.overwrite, rows_per_part=self.rows_per_part,
                        seconds_per_part=self.seconds_per_part) as store:
            done = store.finished()
            _check_key_kind(done, self.by_content, self.out)
            todo = [(path, key) for key, path in keyed.items() if key not in done]
            summary.skipped = summary.inputs - len(todo)
            if on_start is not None:
                on_start(len(todo), summary.skipped)

            def record(row: dict[str, Any]) -> None:
                store.write(row)  # durable before it is counted or shown
                summary.analysed += 1
                if row.get("error_type"):
                    summary.failed += 1
                    errors[row["error_type"]] += 1
                    summary.errors = dict(errors)
                else:
                    verdicts[row["verdict"]] += 1
                    summary.verdicts = dict(verdicts)
                if on_row is not None:
                    on_row(row)

            def ready(workers: int) -> None:
                summary.workers, summary.backend = workers, "ray" if workers else "in-process"
                summary.startup_seconds = round(time.perf_counter() - started, 2)
                if on_ready is not None:
                    on_ready(workers)

            try:
                if not todo:
                    ready(0)
                elif self.workers == 0:
                    ready(0)
                    for path, key in todo:
                        record(analyze_file(path, key, self.options))
                else:
                    from facetrust.scan.ray_backend import run_on_ray

                    run_on_ray(todo, self.options, record, workers=self.workers, address=self.address,
                               cpus_per_worker=self.cpus_per_worker, gpus_per_worker=self.gpus_per_worker,
                               on_ready=ready)
            except BaseException as exc:  # Ctrl-C, SIGTERM, a lost cluster: every finished row is kept
                summary.interrupted = not isinstance(exc, Exception)  # a stop request, not a failure
                raise
            finally:
                summary.seconds = round(time.perf_counter() - started, 2)
        return summary


def _check_key_kind(done: Mapping[str, Any], by_content: bool, out: Path) -> None:
    """A resumed scan must recognise files the way the first run did, or it would redo every one."""
    kinds = {key.startswith("sha256:") for key in done if not key.startswith("unreadable|")}
    if kinds and by_content not in kinds:
        how = "by content (--hash)" if not by_content else "by path, size and time (without --hash)"
        raise ConfigError(f"{out} was written by a scan that recognised files {how}; resume it the same way, "
                          "or write to a new output")


def scan_corpus(paths: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                on_row: RowCallback | None = None, **settings: Any) -> ScanSummary:
    """Analyse every file of ``paths`` into ``out`` (see :class:`CorpusScan` for the settings) and return the
    summary. A second call with the same output skips the files it already holds."""
    return CorpusScan(out, **settings).run(paths, on_row=on_row)


__all__ = ["CorpusScan", "ScanSummary", "check_analyze_options", "scan_corpus"]
