"""Pictures of a :class:`~facetrust.report.Report`: each person's fake probability over time, and a comparison
of several detectors on the same file.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with an Agg canvas (matplotlib is imported on
first use, never at ``import facetrust``): no pyplot state, no display, safe in worker threads and in the web
app. Colours follow the verdict (FAKE red, UNCERTAIN amber, REAL green); ``dark=True`` draws on a dark
background for the web app's dark theme.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from facetrust.errors import DependencyError, InputError
from facetrust.report.report import PersonReport, Report, format_time
from facetrust.types import Label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

VERDICT_COLOURS: dict[str, str] = {
    "FAKE": "#d62728",
    "UNCERTAIN": "#e6a100",
    "REAL": "#2ca02c",
    "NO_FACE": "#7f7f7f",
}


@dataclass(frozen=True)
class _Palette:
    background: str
    text: str
    grid: str
    line: str
    band: str


_LIGHT = _Palette(background="#ffffff", text="#262730", grid="#d9d9de", line="#1f4e9c", band="#9a9aa6")
_DARK = _Palette(background="#0e1117", text="#fafafa", grid="#3a3d46", line="#7fb2ff", band="#8c8c99")


def timeline_figure(report: Report, person: PersonReport, *, dark: bool = False) -> Figure:
    """One person's fake probability per sampled frame against time, with the UNCERTAIN band (grey), the
    threshold (dashed) and the suspicious spans (red, from ``person.suspicious_spans``) shaded.

    For an image (one frame) the same scale is drawn as a single horizontal gauge."""
    palette = _DARK if dark else _LIGHT
    if not report.is_video:
        return _gauge_figure(report, person, palette)
    scores = sorted(person.frame_scores, key=lambda s: s.timestamp)
    times = [s.timestamp for s in scores]
    probabilities = [s.fake_probability for s in scores]
    fig = _figure((7.5, 2.6), palette)
    ax = fig.add_subplot()
    _style(ax, palette)
    low, high = report.uncertain_band
    ax.axhspan(low, high, color=palette.band, alpha=0.25, lw=0, label=f"UNCERTAIN band {low:.2f}–{high:.2f}")
    ax.axhline(report.threshold, color=palette.band, ls="--", lw=1.0, label=f"threshold {report.threshold:.2f}")
    half_step = _half_step(times, report.duration)
    for k, (start, end) in enumerate(person.suspicious_spans):
        # a span of one sampled frame has no width: widen it by half a sampling step each side
        ax.axvspan(start - half_step, end + half_step, color=VERDICT_COLOURS["FAKE"], alpha=0.18, lw=0,
                   label="suspicious frames" if k == 0 else None)
    ax.plot(times, probabilities, "o-", ms=3.0, lw=1.4, color=palette.line, label="fake probability per frame")
    end_time = report.duration if report.duration else (max(times) if times else 1.0)
    ax.set_xlim(0.0, max(end_time, 1e-3))
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("time (m:ss)")
    ax.set_ylabel("fake probability")
    ax.xaxis.set_major_formatter(_time_formatter(tenths=end_time < 60))
    ax.set_title(_person_title(person), color=palette.text, fontsize=10, loc="left")
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    for text in legend.get_texts():
        text.set_color(palette.text)
    return fig


def comparison_figure(reports: Mapping[str, Report], *, dark: bool = False) -> Figure:
    """Several detectors on the same file: one bar per detector (its fake probability, coloured by its
    verdict) with its own UNCERTAIN band and threshold marked. NO_FACE results are listed without a bar."""
    if not reports:
        raise InputError("nothing to compare: no detector results")
    palette = _DARK if dark else _LIGHT
    names = list(reports)
    fig = _figure((7.5, 0.55 * len(names) + 1.3), palette)
    ax = fig.add_subplot()
    _style(ax, palette)
    for row, name in enumerate(names):
        report = reports[name]
        low, high = report.uncertain_band
        ax.plot([low, high], [row, row], lw=12, color=palette.band, alpha=0.35, solid_capstyle="butt",
                label="UNCERTAIN band" if row == 0 else None)
        ax.plot([report.threshold] * 2, [row - 0.3, row + 0.3], color=palette.text, lw=1.2,
                label="threshold" if row == 0 else None)
        colour = VERDICT_COLOURS[str(report.verdict)]
        if report.fake_probability is None:
            ax.text(0.01, row, f"{report.verdict}: no usable face", va="center", color=colour, fontsize=8)
            continue
        ax.barh(row, report.fake_probability, height=0.28, color=colour)
        ax.text(min(report.fake_probability + 0.01, 0.9), row + 0.3, f"{report.verdict} {report.fake_probability:.2f}",
                va="bottom", color=colour, fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("fake probability")
    legend = ax.legend(loc="lower right", fontsize=7, frameon=False)
    for text in legend.get_texts():
        text.set_color(palette.text)
    return fig


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buffer.getvalue()


def write_timeline_pngs(report: Report, directory: str | Path, stem: str) -> list[Path]:
    """Write one timeline PNG per person, ``DIRECTORY/STEM.personN.png``; returns the paths (none when no
    person was found). ``stem`` is made safe for a file name here."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for person in report.people:
        path = directory / f"{safe_file_stem(stem)}.person{person.person}.png"
        path.write_bytes(figure_png(timeline_figure(report, person)))
        logger.debug("wrote %s", path)
        paths.append(path)
    return paths


def safe_file_stem(name: str, max_length: int = 80) -> str:
    """``name`` reduced to letters, digits, ``.``, ``-`` and ``_`` (anything else becomes ``_``), never empty
    and never starting with a dot, so it can name a file in any folder on any system."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:max_length]
    return stem or "media"


def _gauge_figure(report: Report, person: PersonReport, palette: _Palette) -> Figure:
    fig = _figure((7.5, 1.5), palette)
    ax = fig.add_subplot()
    _style(ax, palette)
    low, high = report.uncertain_band
    ax.axvspan(0.0, low, color=VERDICT_COLOURS["REAL"], alpha=0.15, lw=0)
    ax.axvspan(low, high, color=palette.band, alpha=0.3, lw=0, label=f"UNCERTAIN band {low:.2f}–{high:.2f}")
    ax.axvspan(high, 1.0, color=VERDICT_COLOURS["FAKE"], alpha=0.15, lw=0)
    ax.axvline(report.threshold, color=palette.band, ls="--", lw=1.0, label=f"threshold {report.threshold:.2f}")
    colour = VERDICT_COLOURS[str(person.verdict)]
    ax.plot([person.fake_probability], [0.5], "D", ms=10, color=colour, label="fake probability")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_xlabel("fake probability (REAL · UNCERTAIN · FAKE)")
    ax.set_title(_person_title(person), color=palette.text, fontsize=10, loc="left")
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    for text in legend.get_texts():
        text.set_color(palette.text)
    return fig


def _person_title(person: PersonReport) -> str:
    return f"person {person.person}: {person.verdict} {person.fake_probability:.2f}" + (
        "" if person.decides_verdict or person.verdict is Label.REAL else " (seen too briefly to decide)")


def _half_step(times: list[float], duration: float | None) -> float:
    """Half the smallest gap between sampled frames (how far one frame's shading reaches each side)."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    return min(gaps) / 2 if gaps else (duration or 1.0) / 100


def _time_formatter(tenths: bool) -> object:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: format_time(max(value, 0.0), tenths=tenths))


def _figure(size: tuple[float, float], palette: _Palette) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # matplotlib is a dependency, but keep the message useful if it is missing
        raise DependencyError("report plots need matplotlib: pip install matplotlib") from exc
    fig = Figure(figsize=size, layout="constrained", facecolor=palette.background)
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Axes, palette: _Palette) -> None:
    ax.set_facecolor(palette.background)
    ax.tick_params(colors=palette.text, labelsize=8)
    ax.xaxis.label.set_color(palette.text)
    ax.yaxis.label.set_color(palette.text)
    ax.xaxis.label.set_fontsize(8)
    ax.yaxis.label.set_fontsize(8)
    for spine in ax.spines.values():
        spine.set_color(palette.grid)
    ax.grid(True, color=palette.grid, lw=0.5, alpha=0.6)
    ax.set_axisbelow(True)
