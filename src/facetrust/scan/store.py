"""Where a scan's rows go, durably, as each file finishes: a JSON Lines file or a Parquet folder.

* ``results.jsonl``: one JSON object per line, appended and fsync'd row by row. A line torn by a crash is
  dropped when the file is opened again.
* ``results.parquet``: a **folder** of part files (``part-000000.parquet``, ...), which pyarrow, pandas,
  Polars, DuckDB and Spark read as one table. Rows are first appended and fsync'd to ``_journal.jsonl``
  inside the folder, then moved into a new part every ``rows_per_part`` rows or ``seconds_per_part`` seconds
  and when the scan ends; a part is written to a temporary name and renamed, so it is whole or absent.
  Readers skip names that start with ``_`` or ``.``, so they never see the journal or the lock.

Either way a crash or a kill loses no finished row, and opening the output again tells which inputs are done
(:meth:`ResultStore.finished`), so a second run skips them. One run at a time: a lock file refuses a second
writer (:class:`OutputInUseError`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from facetrust.errors import ConfigError, DependencyError, FacetrustError
from facetrust.scan.rows import columns, row_schema

logger = logging.getLogger(__name__)

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl"}
JOURNAL_NAME = "_journal.jsonl"
LOCK_NAME = "_lock"
_INSTALL_HINT = "install the scan extra: pip install 'facetrust[scan]'"


class OutputInUseError(FacetrustError):
    """Another scan is writing the same output (it holds the output's lock)."""


def output_format(out: Path) -> str:
    """``"parquet"`` or ``"jsonl"`` from the suffix of ``out``; :class:`ConfigError` otherwise."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"--out {out}: the name must end in .parquet (a folder of Parquet part files) or "
                          ".jsonl (JSON Lines)")
    return fmt


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule is what the stores use
    except ImportError as exc:
        raise DependencyError(f"Parquet output needs pyarrow: {_INSTALL_HINT}") from exc
    return pyarrow


def arrow_schema() -> Any:
    """The pyarrow schema of a scan's rows (:func:`facetrust.scan.rows.row_schema`)."""
    pa = _pyarrow()
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in row_schema()])


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot open or sync a folder
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_SLIM = ("input_key", "path", "verdict", "error_type")  # what resuming and the summary need of a done row


def _slim(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in _SLIM}


def _read_jsonl(path: Path, *, repair: bool) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file. A last line without its newline (a write cut by a crash) is dropped,
    and with ``repair`` cut off the file, so appending starts on a fresh line; other bad lines are skipped."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        logger.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", path,
                       len(data) - complete)
        if repair:
            with path.open("r+b") as handle:
                handle.truncate(complete)
                os.fsync(handle.fileno())
    rows = []
    for number, line in enumerate(data[:complete].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            logger.warning("%s: line %d is not JSON; skipped", path, number)
            continue
        if isinstance(row, dict) and row.get("input_key"):
            rows.append(row)
    return rows


class _Lock:
    """An exclusive ``flock`` on ``path``, taken without waiting; the holder's pid is written in it."""

    def __init__(self, path: Path, output: Path) -> None:
        self.path = path
        self._handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.seek(0)
            holder = self._handle.read().strip() or "another process"
            self._handle.close()
            raise OutputInUseError(f"{output} is being written by another scan ({holder}); wait for it to "
                                   "finish or choose another output") from None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"pid {os.getpid()}")
        self._handle.flush()

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()


class ResultStore:
    """The rows of one scan output. Open with :func:`open_store`; use as a context manager."""

    path: Path

    def finished(self) -> dict[str, dict[str, Any]]:
        """Rows already in the output, by ``input_key`` (the last one wins)."""
        raise NotImplementedError

    def write(self, row: dict[str, Any]) -> None:
        """Add one row; it is on disk (fsync'd) when this returns."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush what is buffered and release the lock."""
        raise NotImplementedError

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class JsonlStore(ResultStore):
    """Rows as JSON Lines in one file, appended and fsync'd one by one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = _Lock(path.with_name(path.name + ".lock"), path)
        try:
            self._rows = {row["input_key"]: _slim(row) for row in _read_jsonl(path, repair=True)}
            self._handle: IO[str] | None = path.open("a", encoding="utf-8")
        except BaseException:
            self._lock.release()
            raise

    def finished(self) -> dict[str, dict[str, Any]]:
        return dict(self._rows)

    def write(self, row: dict[str, Any]) -> None:
        assert self._handle is not None, "store is closed"
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._rows[row["input_key"]] = _slim(row)

    def close(self) -> None:
        if self._handle is None:
            return
        self._handle.close()
        self._handle = None
        self._lock.release()


class ParquetStore(ResultStore):
    """Rows as a folder of Parquet part files, with a journal so that no finished row is ever lost."""

    def __init__(self, path: Path, *, rows_per_part: int = 1000, seconds_per_part: float = 60.0) -> None:
        if rows_per_part < 1 or seconds_per_part <= 0:
            raise ConfigError("rows_per_part must be >= 1 and seconds_per_part > 0")
        self.pa = _pyarrow()
        self.schema = arrow_schema()
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path}: exists and is not a folder (Parquet results are a folder of part "
                              "files); choose another name or remove it")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rows_per_part, self.seconds_per_part = rows_per_part, seconds_per_part
        self._lock = _Lock(path / LOCK_NAME, path)
        try:
            for stale in path.glob(".part-*.tmp"):  # a part whose write a crash cut short: its rows are in the journal
                stale.unlink()
            self._rows = {row["input_key"]: row for row in _read_parts(path, self.pa, columns=_SLIM)}
            self._journal_path = path / JOURNAL_NAME
            pending = [r for r in _read_jsonl(self._journal_path, repair=True) if r["input_key"] not in self._rows]
            self._buffer: list[dict[str, Any]] = []
            self._next_part = 1 + max((_part_number(p) for p in path.glob("part-*.parquet")), default=-1)
            if pending:  # rows an interrupted run journalled but had not moved into a part yet
                self._buffer = pending
                self._flush_part()
            self._journal: IO[str] | None = self._journal_path.open("w", encoding="utf-8")
            self._last_flush = time.monotonic()
        except BaseException:
            self._lock.release()
            raise
        for row in pending:
            self._rows[row["input_key"]] = _slim(row)

    def finished(self) -> dict[str, dict[str, Any]]:
        return dict(self._rows)

    def write(self, row: dict[str, Any]) -> None:
        assert self._journal is not None, "store is closed"
        self._journal.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._buffer.append(row)
        self._rows[row["input_key"]] = _slim(row)
        if len(self._buffer) >= self.rows_per_part or time.monotonic() - self._last_flush >= self.seconds_per_part:
            self._flush_part()
            self._journal.seek(0)
            self._journal.truncate()
            os.fsync(self._journal.fileno())

    def _flush_part(self) -> None:
        """Move the buffered rows into a new part file (temporary name, fsync, rename)."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        pq = self.pa.parquet
        names = columns()
        table = self.pa.Table.from_pylist([{c: r.get(c) for c in names} for r in self._buffer],
                                          schema=self.schema)
        name = f"part-{self._next_part:06d}.parquet"
        tmp = self.path / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / name)
        _fsync_dir(self.path)
        logger.debug("%s: wrote %s (%d rows)", self.path, name, len(self._buffer))
        self._next_part += 1
        self._buffer = []

    def close(self) -> None:
        if self._journal is None:
            return
        try:
            self._flush_part()
            self._journal.close()
            self._journal_path.unlink(missing_ok=True)  # everything it held is in the parts now
        finally:
            self._journal = None
            self._lock.release()


def _part_number(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def _read_parts(directory: Path, pa: Any, columns: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    for part in sorted(directory.glob("part-*.parquet")):
        try:
            table = pa.parquet.read_table(part, columns=list(columns) if columns else None)
        except (OSError, pa.ArrowException) as exc:
            raise FacetrustError(f"{part}: unreadable Parquet part ({exc}); move it away to resume") from exc
        yield from table.to_pylist()


def open_store(out: Path, *, overwrite: bool = False, rows_per_part: int = 1000,
               seconds_per_part: float = 60.0) -> ResultStore:
    """Open (creating it if needed) the output of a scan; ``overwrite`` first deletes the rows it holds.

    Raises :class:`ConfigError` for a name that is neither ``.parquet`` nor ``.jsonl`` or an unusable path,
    :class:`OutputInUseError` when another scan writes it."""
    out = Path(out)
    fmt = output_format(out)
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: folder {out.parent} does not exist")
    if overwrite and out.exists():
        _remove_output(out, fmt)
    if fmt == "jsonl":
        if out.is_dir():
            raise ConfigError(f"--out {out}: is a folder, expected a file name")
        return JsonlStore(out)
    return ParquetStore(out, rows_per_part=rows_per_part, seconds_per_part=seconds_per_part)


def _remove_output(out: Path, fmt: str) -> None:
    if fmt == "jsonl" or not out.is_dir():
        if out.is_dir():
            raise ConfigError(f"--out {out}: is a folder, expected a file name")
        lock = _Lock(out.with_name(out.name + ".lock"), out)  # never pull the file from under a running scan
        try:
            out.unlink()
        finally:
            lock.release()
        return
    unexpected = [p.name for p in out.iterdir()
                  if not (p.name.startswith(("part-", ".part-")) or p.name in (JOURNAL_NAME, LOCK_NAME))]
    if unexpected:  # refuse to delete a folder that is not a scan's output
        raise ConfigError(f"--out {out}: holds files a scan did not write ({', '.join(sorted(unexpected)[:3])}); "
                          "refusing to delete it")
    lock = _Lock(out / LOCK_NAME, out)
    try:
        for item in out.iterdir():
            if item.name != LOCK_NAME:
                item.unlink() if item.is_file() else shutil.rmtree(item)
    finally:
        lock.release()


def read_results(out: Path) -> list[dict[str, Any]]:
    """Every row of a scan output (finished parts, plus rows still in the journal of an interrupted scan), one
    per input key, in the order they were written."""
    out = Path(out)
    fmt = output_format(out)
    if not out.exists():
        raise ConfigError(f"{out}: no such scan output")
    if fmt == "jsonl":
        rows = _read_jsonl(out, repair=False)
    else:
        rows = [*_read_parts(out, _pyarrow()), *_read_jsonl(out / JOURNAL_NAME, repair=False)]
    latest = {row["input_key"]: row for row in rows}
    return list(latest.values())


__all__ = ["FORMATS", "JsonlStore", "OutputInUseError", "ParquetStore", "ResultStore", "arrow_schema",
           "open_store", "output_format", "read_results"]
