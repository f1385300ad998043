"""One row per scanned file: what :func:`analyze_file` returns, in-process or on a Ray worker.

A row is made with the CLI's own helpers, so it cannot drift from ``facetrust detect``: its ``report`` column
is the file's ``detect --json`` entry (as JSON text), and its first columns are those of ``detect --csv``
(same names, same values; numbers typed). Scan bookkeeping columns follow (:data:`BOOKKEEPING`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "InternalError"  # a bug in facetrust, not a bad input (the name `detect` uses too)
WORKER_DIED = "WorkerDiedError"  # the process analysing the file died (killed, out of memory, crashed)

# types of the `detect --csv` columns that are not text (pyarrow type names); the others are strings
_CSV_TYPES = {"fake_probability": "float64", "threshold": "float64", "people": "int64", "frames_sampled": "int64",
              "faces_found": "int64"}
BOOKKEEPING: tuple[tuple[str, str], ...] = (
    ("input_key", "string"),  # how resume recognises the file: resolved path|size|mtime_ns, or sha256:<hex>
    ("size", "int64"),  # bytes, when the file could be stat'ed
    ("media_kind", "string"),  # image / video
    ("duration", "float64"),  # seconds (videos)
    ("detector", "string"),
    ("seconds", "float64"),  # wall time spent on this file by its worker
    ("worker", "string"),  # host:pid of the process that analysed it
    ("finished_at", "string"),  # ISO 8601, UTC
    ("report", "string"),  # the `detect --json` entry of this file, as JSON text
)


@functools.cache
def row_schema() -> tuple[tuple[str, str], ...]:
    """``(column, pyarrow type name)`` of every row, in order: the ``detect --csv`` columns, then
    :data:`BOOKKEEPING`."""
    from facetrust.report.rows import CSV_COLUMNS

    return (*((name, _CSV_TYPES.get(name, "string")) for name in CSV_COLUMNS), *BOOKKEEPING)


def columns() -> tuple[str, ...]:
    """The column names of a row, in order."""
    return tuple(name for name, _ in row_schema())


def _typed(value: Any, kind: str) -> Any:
    """A ``detect --csv`` value as its column's type: what the CSV file says, read back (empty → None)."""
    if value is None or value == "":
        return None
    return int(value) if kind == "int64" else float(value) if kind == "float64" else str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except (OSError, ValueError):
        return None


def make_row(entry: dict[str, Any], key: str, *, seconds: float, worker: str | None = None) -> dict[str, Any]:
    """The row of one ``detect --json`` entry (a report's, or an error's)."""
    from facetrust.report.rows import CSV_COLUMNS, csv_cells  # the values `detect --csv` writes

    kinds = dict(row_schema())
    row = {name: _typed(cell, kinds[name]) for name, cell in zip(CSV_COLUMNS, csv_cells(entry), strict=True)}
    row.update(
        input_key=key,
        size=_size(Path(entry["path"])),
        media_kind=entry.get("media_kind"),
        duration=entry.get("duration"),
        detector=entry.get("detector"),
        seconds=round(seconds, 4),
        worker=worker or f"{socket.gethostname()}:{os.getpid()}",
        finished_at=_now(),
        report=json.dumps(entry, ensure_ascii=False),
    )
    return row


def error_row(path: str, key: str, error_type: str, message: str, *, seconds: float = 0.0,
              worker: str | None = None) -> dict[str, Any]:
    """The row of a file that could not be analysed: every result column empty, the error named."""
    from facetrust.report.rows import result_entry

    entry = result_entry(Path(path), None, {"type": error_type, "message": message})
    return make_row(entry, key, seconds=seconds, worker=worker)


def analyze_file(path: str, key: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Analyse one file with :func:`facetrust.analyze` (``options`` are its keyword arguments) and return its
    row. Never raises for a bad file: a :class:`facetrust.FacetrustError` becomes an error row named after
    the exception, any other exception an ``InternalError`` row (with the traceback logged)."""
    import facetrust
    from facetrust.report.rows import result_entry

    started = time.perf_counter()
    try:
        report = facetrust.analyze(path, **options)
    except facetrust.FacetrustError as exc:
        return error_row(path, key, type(exc).__name__, str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # a bug, not a bad input: recorded as such, and the scan goes on
        logger.warning("internal error while analysing %s", path, exc_info=True)
        return error_row(path, key, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}",
                         seconds=time.perf_counter() - started)
    return make_row(result_entry(Path(path), report, None), key, seconds=time.perf_counter() - started)


__all__ = ["BOOKKEEPING", "INTERNAL_ERROR", "WORKER_DIED", "analyze_file", "columns", "error_row", "make_row",
           "row_schema"]
