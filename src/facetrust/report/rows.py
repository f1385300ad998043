"""One result per input, as ``facetrust detect --json`` / ``--csv`` write it: shared by the CLI, the corpus
scanner (``facetrust scan``) and the REST service, so their rows cannot drift apart."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facetrust.report.report import Report

CSV_COLUMNS = ("path", "verdict", "fake_probability", "threshold", "people", "fake_people", "frames_sampled",
               "faces_found", "error_type", "error_message", "provenance_status", "provenance_trusted",
               "provenance_signer", "verdict_reason")


def result_entry(path: str | Path, report: Report | None, error: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON entry of one input: the report's dict with ``path`` and ``error: None``, or, for an input that
    could not be analysed, empty results and ``error = {"type": ..., "message": ...}``."""
    if report is not None:
        return {**report.to_dict(), "path": str(path), "error": None}
    if error is None:
        raise ValueError("an entry needs a report or an error")
    return {"path": str(path), "verdict": None, "fake_probability": None, "threshold": None, "people": [],
            "error": dict(error)}


def csv_cells(entry: dict[str, Any]) -> list[Any]:
    """The ``--csv`` values of one entry of :func:`result_entry`, in :data:`CSV_COLUMNS` order (untyped as
    the entry holds them; ``""`` or None where a value is missing)."""
    error = entry["error"] or {}
    provenance = entry.get("provenance") or {}  # failed inputs have none
    fake_people = [str(p["person"]) for p in entry["people"] if p["verdict"] == "FAKE"]
    return [entry["path"], entry["verdict"] or "",
            entry["fake_probability"] if entry["fake_probability"] is not None else "",
            entry["threshold"] if entry["threshold"] is not None else "", len(entry["people"]),
            " ".join(fake_people), entry.get("frames_sampled", ""), entry.get("faces_found", ""),
            error.get("type", ""), error.get("message", ""),
            provenance.get("status", ""),
            provenance["trusted"] if provenance.get("manifest_present") else "",
            provenance.get("signer") or provenance.get("issuer") or "", entry.get("verdict_reason") or ""]


def write_csv_rows(handle: Any, entries: list[dict[str, Any]]) -> None:
    """Write the ``--csv`` header and one row per entry of :func:`result_entry` to a text handle."""
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(csv_cells(entry))


def input_key(path: Path, by_content: bool = False) -> str:
    """How an input is recognised when a run is resumed: its resolved path, size and mtime, or (``by_content``)
    the sha256 of its bytes; an input that cannot be read is keyed by the name it was given."""
    try:
        if by_content:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return "sha256:" + digest.hexdigest()
        stat = path.stat()
        return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    except (OSError, RuntimeError):
        return f"unreadable|{path}"


__all__ = ["CSV_COLUMNS", "csv_cells", "input_key", "result_entry", "write_csv_rows"]
