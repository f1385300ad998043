"""What the web app does besides layout, kept free of Streamlit so it is tested directly: store and check an
upload, put an analysis into words, compare detectors, and build the downloads.

It calls the public API only: :func:`facetrust.analyze`, :mod:`facetrust.explain`, :meth:`Report.to_html`,
:func:`facetrust.media.probe` (the type is read from the bytes, never from the name)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import facetrust
from facetrust.report.html import describe_error
from facetrust.report.report import format_time

DEFAULT_MAX_UPLOAD_MB = 200
MAX_UPLOAD_ENV = "FACETRUST_APP_MAX_UPLOAD_MB"
FRAMES_RANGE = (10, 300)
DEFAULT_FRAMES = 32
FACES_PER_PERSON = 3

# progress(stage, fraction) from analyze, mapped onto one bar: decoding and faces, scoring, explanations
_STAGE_SPAN = {"faces": (0.0, 0.6), "scoring": (0.6, 0.8), "done": (0.8, 0.8), "explain": (0.8, 1.0)}
STAGE_WORDS = {
    "faces": "decoding frames and finding faces",
    "scoring": "scoring the faces",
    "done": "scored",
    "explain": "drawing heatmaps of the most suspicious faces",
}


@dataclass(frozen=True)
class StoredUpload:
    """An upload written to disk under its content hash, with its type read from the bytes."""

    name: str  # the user's file name (display only; never used to decide the type)
    path: Path
    sha256: str
    kind: str  # "image" or "video"
    size: int


class ResultCache:
    """The app's results, keyed by (file sha256, options), shared by every session of the process; the least
    recently used entries go first. (Not ``st.cache_data``: analysing reports progress to the page, which a
    Streamlit cache would try to replay.)"""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``make()`` stored under it (an exception is not stored)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


def max_upload_mb() -> int:
    """The upload limit in MB: ``FACETRUST_APP_MAX_UPLOAD_MB`` (set by ``facetrust app --max-upload-mb``)."""
    value = os.environ.get(MAX_UPLOAD_ENV, "")
    try:
        limit = int(value) if value else DEFAULT_MAX_UPLOAD_MB
    except ValueError as exc:
        raise facetrust.ConfigError(f"{MAX_UPLOAD_ENV} must be a whole number of MB, got {value!r}") from exc
    if limit < 1:
        raise facetrust.ConfigError(f"{MAX_UPLOAD_ENV} must be at least 1 MB, got {limit}")
    return limit


def safe_name(name: str) -> str:
    """The last part of ``name`` with path separators and control characters removed (a file name that can be
    written in any folder); ``"upload"`` when nothing is left."""
    base = PurePath(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f/]", "_", base).strip(". ")[:180]
    return base or "upload"


def store_upload(name: str, data: bytes, directory: str | Path, *, limit_mb: int | None = None) -> StoredUpload:
    """Write ``data`` to ``DIRECTORY/<sha256 prefix>/<safe name>`` and check from its bytes that it is an
    image or a video facetrust reads.

    Raises:
        MediaTooLargeError: more than ``limit_mb`` MB (default :func:`max_upload_mb`).
        EmptyMediaError, UnsupportedMediaError, CorruptMediaError: what :func:`facetrust.probe` finds.
    """
    limit = max_upload_mb() if limit_mb is None else limit_mb
    if len(data) > limit * 1024 * 1024:
        raise facetrust.MediaTooLargeError(
            f"{name}: {len(data) / 1e6:.1f} MB is over the upload limit of {limit} MB")
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(directory) / digest[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    if not (path.exists() and path.stat().st_size == len(data)):
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    try:
        info = facetrust.probe(path)
    except facetrust.FacetrustError as exc:  # the same error, naming the user's file rather than our copy
        raise type(exc)(str(exc).replace(str(path), name)) from exc
    return StoredUpload(name=name, path=path, sha256=digest, kind=info.kind, size=len(data))


def stage_fraction(stage: str, fraction: float) -> float:
    """Where ``stage`` at ``fraction`` lies on the app's single progress bar (0–1)."""
    start, end = _STAGE_SPAN.get(stage, (0.0, 1.0))
    return min(1.0, max(0.0, start + (end - start) * min(1.0, max(0.0, fraction))))


def analyse(path: Path, detector: str, frames: int,
            progress: Callable[[str, float], None] | None = None) -> facetrust.Report:
    """:func:`facetrust.analyze` with the app's options (``frames`` clamped to 10–300)."""
    frames = min(FRAMES_RANGE[1], max(FRAMES_RANGE[0], int(frames)))
    return facetrust.analyze(path, detector=detector, frames=frames, progress=progress)


def explain_faces(path: Path, report: facetrust.Report, detector: str, method: str = "gradcam",
                  progress: Callable[[str, float], None] | None = None) -> tuple[list[Any], list[Any], str | None]:
    """``(heatmaps, thumbnails, note)`` of each person's most suspicious faces; empty lists and a note saying
    why when there are none (no face, facetrust.explain missing, or it failed)."""
    if report.verdict is facetrust.Label.NO_FACE:
        return [], [], None
    try:
        from facetrust import explain as explaining
    except ImportError:
        return [], [], "Heatmaps need facetrust.explain: pip install 'facetrust[explain]'."
    try:
        thumbnails = explaining.suspicious_faces(path, report, per_person=FACES_PER_PERSON, detector=detector)
        heatmaps = explaining.explain(
            path, report=report, method=method, faces_per_person=FACES_PER_PERSON, detector=detector,
            progress=None if progress is None else lambda stage, fraction: progress("explain", fraction))
    except facetrust.FacetrustError as exc:
        return [], [], f"No heatmaps: {type(exc).__name__}: {exc}"
    return list(heatmaps), list(thumbnails), None


def explain_methods() -> list[str]:
    """The heatmap methods :mod:`facetrust.explain` offers (``["gradcam"]`` when it cannot be listed)."""
    try:
        from facetrust import explain as explaining

        methods = list(explaining.list_methods())
    except (ImportError, AttributeError, facetrust.FacetrustError):
        return ["gradcam"]
    return methods or ["gradcam"]


def answer(report: facetrust.Report) -> tuple[str, str]:
    """The answer at the top of the page: ``(headline, details)`` in plain words."""
    kind = "video" if report.is_video else "image"
    if report.verdict is facetrust.Label.NO_FACE:
        return ("No face to judge",
                f"No usable face was found in {report.frames_sampled} sampled frame(s) of this {kind}. This is not "
                "a verdict that it is real: there was nothing to judge.")
    probability = report.fake_probability or 0.0
    words = {
        facetrust.Label.FAKE: f"the faces in this {kind} look altered",
        facetrust.Label.REAL: f"no sign of alteration in this {kind}",
        facetrust.Label.UNCERTAIN: f"the detector cannot tell for this {kind}",
    }[report.verdict]
    headline = f"{report.verdict} {probability:.2f}: {words}"
    which = report.summary().partition("  ")[2].partition("  ")[2]
    low, high = report.uncertain_band
    details = (f"Fake probability {probability:.2f} (calibrated: about {round(100 * probability)} in 100). "
               f"Which person, when: {which}. Below {low:.2f} is REAL, from {high:.2f} FAKE; in between the "
               "detector is not reliable enough to call it, so it says UNCERTAIN rather than guess.")
    return headline, details


def friendly_error(exc: BaseException) -> str:
    """What to tell a person whose file could not be analysed, in plain words (no traceback, and nothing taken
    from the file or its name, so it is safe to show as Markdown)."""
    if isinstance(exc, facetrust.FacetrustError):
        return describe_error(type(exc).__name__)
    return "Something went wrong inside facetrust while analysing this file: a bug, not your file's fault."


def error_detail(exc: BaseException, name: str, stored: Path | None = None) -> str:
    """The exact error as plain text, with the upload's storage path replaced by the user's file name."""
    message = str(exc) if stored is None else str(exc).replace(str(stored), name)
    return f"{type(exc).__name__}: {message}"


def person_caption(report: facetrust.Report, person: Any) -> str:
    """``"person 1: FAKE 0.86, seen 0:00.0–0:09.8 (32 frames)"``."""
    text = f"person {person.person}: {person.verdict} {person.fake_probability:.2f}"
    if report.is_video:
        tenths = report.duration is not None and report.duration < 60
        text += (f", seen {format_time(person.start, tenths=tenths)}–{format_time(person.end, tenths=tenths)} "
                 f"({person.frames_used} frames)")
    return text


def comparison_rows(reports: Mapping[str, facetrust.Report]) -> list[dict[str, Any]]:
    """One row per detector for the side-by-side table."""
    rows = []
    for name, report in reports.items():
        rows.append({
            "detector": name,
            "verdict": str(report.verdict),
            "fake probability": report.fake_probability,
            "threshold": report.threshold,
            "UNCERTAIN band": f"{report.uncertain_band[0]:.2f}–{report.uncertain_band[1]:.2f}",
            "people": len(report.people),
            "seconds": report.timings.get("total"),
        })
    return rows


def stats_rows(report: facetrust.Report) -> list[dict[str, Any]]:
    """Frames, faces and timings as rows for a small table."""
    dropped = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in report.faces_dropped.items() if n) or "none"
    rows: list[dict[str, Any]] = [
        {"what": "frames sampled", "value": str(report.frames_sampled)},
        {"what": "faces found", "value": str(report.faces_found)},
        {"what": "faces dropped", "value": dropped},
        {"what": "people", "value": str(len(report.people))},
        {"what": "detector", "value": report.detector},
        {"what": "weights sha256", "value": report.weights_sha256 or "(not recorded)"},
    ]
    rows += [{"what": f"time: {key}", "value": f"{seconds:.2f} s"} for key, seconds in report.timings.items()]
    return rows


def named(report: facetrust.Report, name: str) -> facetrust.Report:
    """``report`` with the user's file name in place of the upload's storage path (for downloads)."""
    return dataclasses.replace(report, path=name)


def results_json(reports: Mapping[str, facetrust.Report], name: str) -> str:
    """All detectors' reports of one file as JSON: ``{"file": name, "results": {detector: report}}``."""
    return json.dumps({"file": name, "results": {d: named(r, name).to_dict() for d, r in reports.items()}},
                      indent=2)


def results_csv(reports: Mapping[str, facetrust.Report], name: str) -> str:
    """One CSV row per detector and person (a row with an empty person when no face was found)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "detector", "verdict", "fake_probability", "threshold", "person", "person_verdict",
                     "person_fake_probability", "start", "end", "suspicious_spans"])
    for detector, report in reports.items():
        head = [name, detector, str(report.verdict),
                "" if report.fake_probability is None else report.fake_probability, report.threshold]
        if not report.people:
            writer.writerow([*head, "", "", "", "", "", ""])
        for person in report.people:
            spans = " ".join(f"{a:.2f}-{b:.2f}" for a, b in person.suspicious_spans)
            writer.writerow([*head, person.person, str(person.verdict), person.fake_probability, person.start,
                             person.end, spans])
    return buffer.getvalue()


def report_html(report: facetrust.Report, name: str, heatmaps: Sequence[Any] = (),
                thumbnails: Sequence[Any] = ()) -> str:
    """The self-contained HTML report (:meth:`Report.to_html`) under the user's file name."""
    return named(report, name).to_html(explanations=list(heatmaps) or None, thumbnails=list(thumbnails) or None)
