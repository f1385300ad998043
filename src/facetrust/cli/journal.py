"""Crash-safe batch results: a journal of finished inputs, atomic final files, a lock, and resuming.

While ``facetrust detect ... --json F`` (or ``--csv F``) runs, each finished input is appended to
``F.partial.jsonl`` and flushed to disk (fsync), so a run killed by any signal, SIGKILL included, keeps every
finished result. The final JSON/CSV are written to a temporary file and renamed over the target, so they
are never half-written. ``--resume`` reads the journal (and a final JSON of an interrupted run) and skips
the inputs already done, keyed by resolved path, size and modification time (``--hash``: by content).
A second process pointed at the same output is refused while the first holds ``F.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from facetrust.report.rows import input_key


class OutputLockedError(Exception):
    """Another process writes the same results."""


def write_atomically(target: Path, write: Callable[[IO[str]], None]) -> None:
    """Write ``target`` through a temporary file in its folder, fsync'd, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Journal:
    """The append-only record of one batch run's finished inputs, beside its main output file."""

    def __init__(self, output: Path, *, by_content: bool = False) -> None:
        self.output = output
        self.path = output.with_name(output.name + ".partial.jsonl")
        self.by_content = by_content
        lock_path = output.with_name(output.name + ".lock")
        self._lock = lock_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "another process"
            self._lock.close()
            raise OutputLockedError(f"{output} is being written by another facetrust run ({holder}); wait for it "
                               f"to finish or choose another output file") from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"pid {os.getpid()}")
        self._lock.flush()
        self._lock_path = lock_path
        self._handle: IO[str] | None = None

    def finished(self, json_output: Path | None) -> dict[str, dict[str, Any]]:
        """Entries of earlier runs by input key: the journal's lines (a torn last line is ignored), then
        those of a final JSON written by an interrupted run."""
        done: dict[str, dict[str, Any]] = {}
        if json_output is not None and json_output.is_file():
            with contextlib.suppress(OSError, ValueError):
                for entry in json.loads(json_output.read_text(encoding="utf-8")).get("results", []):
                    if isinstance(entry, dict) and entry.get("input_key"):
                        done[entry["input_key"]] = entry
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and entry.get("input_key"):
                        done[entry["input_key"]] = entry
        return done

    def start(self, keep: bool) -> None:
        """Open the journal for appending; ``keep=False`` starts it empty (a new run, not a resumed one)."""
        self._handle = self.path.open("a" if keep else "w", encoding="utf-8")

    def record(self, entry: dict[str, Any]) -> None:
        """Append one finished input and make it durable before the next one starts."""
        assert self._handle is not None
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self, *, complete: bool) -> None:
        """Close; a complete run's journal is no longer needed (its final files hold everything)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if complete:
            self.path.unlink(missing_ok=True)
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
        self._lock.close()
        self._lock_path.unlink(missing_ok=True)


__all__ = ["Journal", "OutputLockedError", "input_key", "write_atomically"]
