"""A report a person can read and share: one self-contained HTML page per analysed file, and an index page.

Every page stands alone: pictures are embedded as ``data:`` URIs, the style sheet is inline, there is no
script at all, and a Content-Security-Policy forbids scripts and network access, so a page works offline and
as an e-mail attachment. Everything that comes from the user or the file (names, paths, warnings, error
messages, metadata) is escaped with :func:`html.escape`; a file named ``<img src=x onerror=alert(1)>.mp4``
shows as text.

>>> page = report.to_html()                                         # doctest: +SKIP
>>> Path("clip.html").write_text(page, encoding="utf-8")           # doctest: +SKIP
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust.report.report import PersonReport, Report, format_time
from facetrust.types import Label

if TYPE_CHECKING:  # the explanation room's records (importing them here at run time would be circular)
    from facetrust.explain.records import FaceExplanation as FaceEvidence
    from facetrust.explain.records import SuspiciousFace as FaceThumbnail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexEntry:
    """One line of the index page of a batch: an analysed file (``report``) or a failed one (``error_*``)."""

    name: str  # the input as the user named it
    href: str | None  # its page, relative to the index (None: no page was written)
    report: Report | None = None
    error_type: str | None = None
    error_message: str | None = None


_HEADLINES = {
    Label.FAKE: "The faces in this {kind} look altered.",
    Label.REAL: "No sign of alteration was found in the faces of this {kind}.",
    Label.UNCERTAIN: "The detector cannot tell whether the faces in this {kind} were altered.",
    Label.NO_FACE: "No usable face was found in this {kind}, so nothing was judged.",
}
_DROP_REASONS = {
    "too_small": "too small to judge (below the minimum face size)",
    "low_score": "the face finder was not confident it is a face",
    "brief": "seen in too few frames",
}
_ERROR_ADVICE = {
    "MediaNotFoundError": "The file could not be found or read.",
    "EmptyMediaError": "The file is empty or holds no picture.",
    "UnsupportedMediaError": "This is not an image or video format facetrust reads. The type is decided from "
                             "the file's content, not its name: JPEG, PNG, WebP, BMP, TIFF, GIF images and "
                             "the common video containers (MP4, MOV, MKV, WebM, AVI, MPEG) are read.",
    "CorruptMediaError": "The file is damaged: it looks like an image or video but could not be decoded.",
    "MediaTooLargeError": "The file exceeds a safety limit (picture size or video length) and was refused "
                          "before decoding.",
    "ConfigError": "An option was not valid for this file.",
    "WeightsError": "The detector's weights are missing or altered.",
    "DependencyError": "A part of facetrust needed here is not installed.",
}

_STYLE = """
:root { color-scheme: light dark; --bg:#ffffff; --fg:#1d1e24; --muted:#5c5f6b; --card:#f4f5f8; --line:#d9dbe3;
  --fake:#c62828; --real:#2e7d32; --uncertain:#b77900; --noface:#5f6368; }
@media (prefers-color-scheme: dark) { :root { --bg:#0e1117; --fg:#f2f3f5; --muted:#a3a8b4; --card:#1a1d26;
  --line:#343846; --fake:#ff6b6b; --real:#66bb6a; --uncertain:#ffc247; --noface:#b0b3b8; } }
body { background:var(--bg); color:var(--fg); font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  max-width:960px; margin:0 auto; padding:24px; }
h1 { font-size:1.35em; margin:0 0 4px; word-break:break-all; } h2 { font-size:1.15em; margin-top:32px; }
.muted { color:var(--muted); } .small { font-size:.85em; }
.verdict { border-left:8px solid var(--noface); background:var(--card); padding:16px 20px; border-radius:6px; }
.verdict .label { font-size:2em; font-weight:700; letter-spacing:.03em; }
.verdict.FAKE { border-color:var(--fake); } .FAKE .label, .tag.FAKE { color:var(--fake); }
.verdict.REAL { border-color:var(--real); } .REAL .label, .tag.REAL { color:var(--real); }
.verdict.UNCERTAIN { border-color:var(--uncertain); } .UNCERTAIN .label, .tag.UNCERTAIN { color:var(--uncertain); }
.verdict.NO_FACE, .verdict.ERROR { border-color:var(--noface); } .tag { font-weight:700; }
.person { background:var(--card); border-radius:6px; padding:12px 16px; margin:12px 0; }
.thumbs img { height:112px; border-radius:4px; margin:4px 6px 4px 0; }
img.plot, img.panel { max-width:100%; border-radius:4px; }
figure { margin:12px 0; } figcaption { font-size:.85em; color:var(--muted); }
table { border-collapse:collapse; margin:8px 0; } td, th { border-bottom:1px solid var(--line); padding:4px 10px;
  text-align:left; vertical-align:top; } code, .mono { font-family:ui-monospace,Menlo,Consolas,monospace;
  font-size:.85em; word-break:break-all; }
ul.warnings li { color:var(--uncertain); }
"""
# No script may run and nothing may be fetched: the page is data only.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_report_html(
    report: Report,
    *,
    explanations: Sequence[FaceEvidence] | None = None,
    thumbnails: Sequence[FaceThumbnail] | None = None,
    note: str | None = None,
) -> str:
    """The self-contained HTML page of one analysed file.

    Args:
        report: what :func:`facetrust.analyze` returned.
        explanations: heatmaps of the most suspicious faces (``facetrust.explain.explain``), shown with the
            frame time, face box and probability; a face the detector calls REAL is labelled "not evidence".
        thumbnails: face crops per person (``facetrust.explain.suspicious_faces``).
        note: a line shown under the explanations heading (e.g. why there are none).
    """
    name = _display_name(report.path)
    kind = "video" if report.is_video else "image"
    parts = [_header(name, report), _verdict_box(report, kind)]
    if report.verdict is Label.NO_FACE:
        parts.append(_no_face_section(report))
    else:
        parts.append(_band_section(report))
        parts.append(_people_section(report, thumbnails or ()))
        parts.append(_evidence_section(explanations, note))
    provenance = getattr(report, "provenance", None)
    if provenance is not None:
        parts.append(_provenance_section(provenance))
    parts.append(_details_section(report))
    return _page(f"facetrust: {report.verdict} {name}", "\n".join(parts))


def render_error_html(name: str, error_type: str, message: str) -> str:
    """The page of a file that could not be analysed: what went wrong, in plain words, and the exact error."""
    advice = _ERROR_ADVICE.get(error_type, "facetrust could not analyse this file.")
    body = f"""
<header><p class="muted small">facetrust report</p><h1>{escape(name)}</h1></header>
<section class="verdict ERROR"><div class="label">Could not analyse this file</div>
<p>{escape(advice)}</p>
<p class="small">Nothing was judged: this is not a verdict that the file is real or fake.</p></section>
<h2>Error</h2><p><span class="tag">{escape(error_type)}</span>: <span class="mono">{escape(message)}</span></p>
{_footer()}"""
    return _page(f"facetrust: could not analyse {name}", body)


def render_index_html(entries: Sequence[IndexEntry], *, title: str = "facetrust reports") -> str:
    """The index page of a batch: one row per input with its verdict and a link to its page."""
    counts: dict[str, int] = {}
    rows = []
    for entry in entries:
        link = (f'<a href="{escape(entry.href, quote=True)}">{escape(entry.name)}</a>' if entry.href
                else escape(entry.name))
        if entry.report is not None:
            verdict = str(entry.report.verdict)
            probability = "" if entry.report.fake_probability is None else f"{entry.report.fake_probability:.2f}"
            what = escape(_which_person(entry.report))
        else:
            verdict, probability = "ERROR", ""
            what = escape(f"{entry.error_type}: {entry.error_message}")
        counts[verdict] = counts.get(verdict, 0) + 1
        rows.append(f'<tr><td class="mono">{link}</td><td class="tag {verdict}">{verdict}</td>'
                    f"<td>{probability}</td><td>{what}</td></tr>")
    tally = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
    body = f"""
<header><p class="muted small">facetrust report</p><h1>{escape(title)}</h1>
<p>{len(entries)} file(s){": " + escape(tally) if tally else ""}.</p></header>
<table><tr><th>file</th><th>verdict</th><th>fake probability</th><th>which person, when</th></tr>
{"".join(rows)}</table>
{_footer()}"""
    return _page(title, body)


class ReportFolder:
    """Writes one page per input into a folder as each result arrives, then ``index.html`` listing them.

    Page names come from the input's file name made safe (``clip.mp4`` → ``clip.mp4.html``), numbered when
    two inputs share a name; each page is written whole (to a temporary name, then renamed)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.entries: list[IndexEntry] = []
        self._taken = {"index.html"}

    def add_report(self, name: str, report: Report, *, explanations: Sequence[FaceEvidence] | None = None,
                   thumbnails: Sequence[FaceThumbnail] | None = None, note: str | None = None) -> Path:
        """Write the page of an analysed input; returns its path."""
        page = render_report_html(report, explanations=explanations, thumbnails=thumbnails, note=note)
        path = self._write(name, page)
        self.entries.append(IndexEntry(name, path.name, report=report))
        return path

    def add_error(self, name: str, error_type: str, message: str) -> Path:
        """Write the page of an input that could not be analysed; returns its path."""
        path = self._write(name, render_error_html(PurePath(name).name, error_type, message))
        self.entries.append(IndexEntry(name, path.name, error_type=error_type, error_message=message))
        return path

    def write_index(self, title: str = "facetrust reports") -> Path:
        """Write ``index.html`` for the inputs added so far; returns its path."""
        path = self.directory / "index.html"
        _write_whole(path, render_index_html(self.entries, title=title))
        return path

    def _write(self, name: str, page: str) -> Path:
        from facetrust.report.plots import safe_file_stem

        stem = safe_file_stem(PurePath(name).name)
        file_name, number = f"{stem}.html", 1
        while file_name in self._taken:
            number += 1
            file_name = f"{stem}-{number}.html"
        self._taken.add(file_name)
        path = self.directory / file_name
        _write_whole(path, page)
        logger.debug("wrote %s", path)
        return path


def _write_whole(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def describe_error(error_type: str) -> str:
    """A plain-words explanation of a facetrust error type (by class name), for pages and the web app."""
    return _ERROR_ADVICE.get(error_type, "facetrust could not analyse this file.")


def image_data_uri(image: np.ndarray, *, format: str = "JPEG") -> str:  # noqa: A002 - Pillow's word
    """An RGB ``uint8`` array as a ``data:`` URI (JPEG by default, or PNG)."""
    from PIL import Image

    buffer = io.BytesIO()
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if format.upper() == "JPEG":
        picture.convert("RGB").save(buffer, format="JPEG", quality=88)
        mime = "image/jpeg"
    else:
        picture.save(buffer, format="PNG")
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI."""
    return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"


# ------------------------------------------------------------------------------------------ page parts


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_STYLE}</style></head>
<body>{body}</body></html>
"""


def _display_name(path: str | None) -> str:
    return PurePath(path).name if path else "(in-memory image)"


def _header(name: str, report: Report) -> str:
    size = f"{report.width}×{report.height}"
    what = (f"video, {format_time(report.duration, tenths=True)} long, {size}" if report.is_video
            and report.duration is not None else f"{report.media_kind}, {size}")
    return (f'<header><p class="muted small">facetrust report</p><h1>{escape(name)}</h1>'
            f'<p class="muted">{escape(what)}</p></header>')


def _verdict_box(report: Report, kind: str) -> str:
    label = report.verdict
    headline = _HEADLINES[label].format(kind=kind)
    lines = [f'<section class="verdict {label}"><div class="label">{label}</div><p><b>{escape(headline)}</b></p>']
    if report.fake_probability is not None:
        p = report.fake_probability
        lines.append(
            f"<p>Fake probability <b>{p:.2f}</b>, about {round(100 * p)} in 100. The probability is calibrated: "
            f"of the validation files the detector scored near {p:.2f}, about {round(100 * p)} % were fakes. "
            "It is an estimate, not a proof; media unlike the detector's training data can be scored wrongly.</p>")
        which = _which_person(report)
        if which:
            lines.append(f"<p>Which person, when: <b>{escape(which)}</b></p>")
    reason = getattr(report, "verdict_reason", None)
    if reason:
        lines.append(f"<p>Why this verdict: {escape(str(reason))}</p>")
    else:
        lines.append(f"<p>{report.frames_sampled} frame(s) were searched for faces. This is not a verdict that "
                     "the file is real: there was nothing to judge.</p>")
    lines.append("</section>")
    return "\n".join(lines)


def _which_person(report: Report) -> str:
    """The "which person, when" part of :meth:`Report.summary` (after the label and the probability)."""
    if report.verdict is Label.NO_FACE:
        return "no usable face"
    return report.summary().partition("  ")[2].partition("  ")[2]


def _band_section(report: Report) -> str:
    low, high = report.uncertain_band
    return f"""<h2>How to read the verdict</h2>
<p>The detector gives each face a fake probability from 0 to 1. Below <b>{low:.2f}</b> a face is called
<span class="tag REAL">REAL</span>; at or above <b>{high:.2f}</b> it is called <span class="tag FAKE">FAKE</span>.
In between lies the <span class="tag UNCERTAIN">UNCERTAIN</span> band: there the detector is not reliable enough
to call either way, so it says so rather than guess. The file's verdict follows its most suspicious person
(threshold {report.threshold:.2f}).</p>"""


def _people_section(report: Report, thumbnails: Sequence[FaceThumbnail]) -> str:
    from facetrust.report.plots import figure_png, timeline_figure

    by_person: dict[int, list[FaceThumbnail]] = {}
    for thumb in thumbnails:
        by_person.setdefault(int(thumb.person), []).append(thumb)
    tenths = report.duration is not None and report.duration < 60
    cards = [f"<h2>People ({len(report.people)})</h2>"]
    for person in report.people:
        cards.append(f'<div class="person" id="person-{person.person}">')
        cards.append(f'<h3>Person {person.person}: <span class="tag {person.verdict}">{person.verdict}</span> '
                     f"{person.fake_probability:.2f}</h3>")
        thumbs = by_person.get(person.person, [])
        if thumbs:
            images = "".join(
                f'<img src="{image_data_uri(t.crop)}" alt="person {person.person} at '
                f'{format_time(t.timestamp, tenths=tenths)}" title="fake probability {t.fake_probability:.2f}">'
                for t in thumbs)
            cards.append(f'<div class="thumbs">{images}</div>')
        cards.append(f"<p>{escape(_person_words(report, person, tenths))}</p>")
        if person.members:
            rows = "".join(f'<tr><td>{escape(m.title)}</td><td class="tag {m.verdict}">{m.verdict}</td>'
                           f"<td>{m.fake_probability:.2f}</td></tr>" for m in person.members)
            cards.append("<table><tr><th>ensemble member</th><th>its verdict</th><th>its probability</th></tr>"
                         f"{rows}</table>")
        if person.frame_scores:
            png = figure_png(timeline_figure(report, person))
            what = "over time" if report.is_video else "on the decision scale"
            cards.append(f'<figure><img class="plot" src="{png_data_uri(png)}" alt="fake probability of person '
                         f'{person.person} {what}"><figcaption>Fake probability {what}: grey = UNCERTAIN band, '
                         "dashed = threshold" + (", red = suspicious frames" if report.is_video else "")
                         + ".</figcaption></figure>")
        cards.append("</div>")
    return "\n".join(cards)


def _person_words(report: Report, person: PersonReport, tenths: bool) -> str:
    if not report.is_video:
        words = f"Face of {person.median_face_size:.0f} px."
    else:
        start, end = format_time(person.start, tenths=tenths), format_time(person.end, tenths=tenths)
        words = f"Seen from {start} to {end} in {person.frames_used} sampled frame(s); face about " \
                f"{person.median_face_size:.0f} px."
        if person.suspicious_spans and person.verdict is not Label.REAL:
            spans = ", ".join(_span(a, b, tenths) for a, b in person.suspicious_spans[:8])
            more = f" (+{len(person.suspicious_spans) - 8} more)" if len(person.suspicious_spans) > 8 else ""
            words += f" Suspicious at {spans}{more}."
    if not person.decides_verdict:
        words += " Seen too briefly to decide the file's verdict."
    return words


def _span(a: float, b: float, tenths: bool) -> str:
    start, end = format_time(a, tenths=tenths), format_time(b, tenths=tenths)
    return start if start == end else f"{start}–{end}"


def _evidence_section(explanations: Sequence[FaceEvidence] | None, note: str | None) -> str:
    parts = ["<h2>Most suspicious frames</h2>"]
    if note:
        parts.append(f'<p class="muted">{escape(note)}</p>')
    if not explanations:
        if not note:
            parts.append('<p class="muted">No heatmaps in this report (facetrust.explain was not run).</p>')
        return "\n".join(parts)
    method = explanations[0].method
    parts.append(f"<p>Where the detector looked ({escape(method)}): warm colours mark the regions that pushed "
                 "its score towards FAKE. Panels: face crop | heatmap | overlay.</p>")
    for item in explanations:
        x1, y1, x2, y2 = (round(v) for v in item.box)
        member = f", member {item.member}" if item.member else ""
        status = ("evidence of alteration" if item.is_evidence
                  else f"not evidence: the detector calls this face {item.label}")
        caption = (f"Person {item.person}, {format_time(item.timestamp, tenths=True)} (frame {item.frame_index}), "
                   f"face box ({x1}, {y1})–({x2}, {y2}), fake probability {item.fake_probability:.2f}{member}: "
                   f"{status}.")
        parts.append(f'<figure><img class="panel" src="{image_data_uri(item.panel())}" alt="{escape(caption)}">'
                     f"<figcaption>{escape(caption)}</figcaption></figure>")
    return "\n".join(parts)


def _no_face_section(report: Report) -> str:
    dropped = _dropped_words(report.faces_dropped)
    found = f"{report.faces_found} face(s) were found but none could be used" if report.faces_found else \
        "no face was found"
    return (f"<h2>Why no face</h2><p>In {report.frames_sampled} sampled frame(s) {found}{dropped}. "
            "Faces that are very small, strongly turned away, covered or blurred cannot be judged. Try a "
            "sharper or larger copy of the media.</p>")


def _dropped_words(dropped: Mapping[str, int]) -> str:
    reasons = [f"{n} {_DROP_REASONS.get(key, key.replace('_', ' '))}" for key, n in dropped.items() if n]
    return ("; dropped: " + "; ".join(reasons)) if reasons else ""


def _provenance_section(provenance: object) -> str:
    """What the file's Content Credentials and metadata say: the one-sentence meaning, then every field that
    holds something."""
    data = _plain(provenance)
    meaning = getattr(provenance, "meaning", None)
    if isinstance(data, Mapping):
        data = {k: v for k, v in data.items() if k != "meaning" and v not in (None, "", (), [], {}, False)}
    words = f"<p>{escape(str(meaning))}</p>" if meaning else ""
    return f"<h2>Provenance</h2>{words}{_definition_list(data)}"


def _plain(value: object) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _definition_list(data: Any, depth: int = 0) -> str:
    if isinstance(data, Mapping):
        if not data:
            return '<span class="muted">(none)</span>'
        rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_definition_list(v, depth + 1)}</td></tr>"
                       for k, v in data.items())
        return f"<table>{rows}</table>"
    if isinstance(data, list | tuple):
        if not data:
            return '<span class="muted">(none)</span>'
        return "<ul>" + "".join(f"<li>{_definition_list(v, depth + 1)}</li>" for v in data) + "</ul>"
    return f'<span class="mono">{escape(str(data))}</span>'


def _details_section(report: Report) -> str:
    rows = [
        ("file", report.path or "(in-memory image)"),
        ("detector", report.detector),
        ("weights sha256", report.weights_sha256 or "(not recorded)"),
        ("face finder", report.face_detector),
        ("frames sampled", str(report.frames_sampled)),
        ("faces found", str(report.faces_found)),
        ("faces dropped", _dropped_words(report.faces_dropped).removeprefix("; dropped: ") or "none"),
        ("facetrust version", report.version),
        ("written", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if report.readable_fraction is not None:
        rows.insert(5, ("readable part", f"{100 * report.readable_fraction:.0f} % of the video could be decoded"))
    table = "".join(f'<tr><th>{escape(k)}</th><td class="mono">{escape(v)}</td></tr>' for k, v in rows)
    parts = ["<h2>Details</h2>", f"<table>{table}</table>"]
    if report.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in report.warnings)
        parts.append(f'<h3>Warnings</h3><ul class="warnings">{items}</ul>')
    if report.timings:
        timing_rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:.2f} s</td></tr>" for k, v in report.timings.items())
        parts.append(f"<h3>Timings</h3><table>{timing_rows}</table>")
    parts.append(_footer())
    return "\n".join(parts)


def _footer() -> str:
    return ('<footer><p class="muted small">Made by facetrust. This page is self-contained: it loads nothing '
            "from the network and runs no script.</p></footer>")
