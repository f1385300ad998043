"""``facetrust detect --report DIR --plots DIR``: an HTML page per input (with face thumbnails and heatmaps
from :mod:`facetrust.explain` when it is installed), ``index.html``, and PNG timeline plots per person."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import facetrust
from facetrust.report.html import ReportFolder
from facetrust.report.plots import write_timeline_pngs

logger = logging.getLogger("facetrust.cli")

FACES_PER_PERSON = 3  # heatmaps and thumbnails: the most suspicious faces of each person


def evidence(source: Path, report: facetrust.Report, detector: str) -> tuple[Sequence[Any], Sequence[Any], str | None]:
    """``(explanations, thumbnails, note)`` for the page of ``report``: Grad-CAM heatmaps and face crops of
    each person's most suspicious faces, or empty lists and a note saying why there are none."""
    if report.verdict is facetrust.Label.NO_FACE:
        return [], [], None
    try:
        from facetrust import explain as explaining
    except ImportError:
        return [], [], "No heatmaps: facetrust.explain is not installed (pip install 'facetrust[explain]')."
    try:
        thumbnails = explaining.suspicious_faces(source, report, per_person=FACES_PER_PERSON, detector=detector)
        explanations = explaining.explain(source, report=report, faces_per_person=FACES_PER_PERSON,
                                          detector=detector)
    except facetrust.DependencyError as exc:
        return [], [], f"No heatmaps: {exc}"
    except facetrust.FacetrustError as exc:
        logger.warning("explaining %s failed: %s", source, exc)
        return [], [], f"No heatmaps: {type(exc).__name__}: {exc}"
    return explanations, thumbnails, None


class DetectPages:
    """What ``detect`` writes besides its result lines: pages (``--report``) and plots (``--plots``)."""

    def __init__(self, report_dir: Path | None, plots_dir: Path | None, detector: str) -> None:
        self.folder = ReportFolder(report_dir) if report_dir is not None else None
        self.plots_dir = plots_dir
        self.detector = detector
        self.failures: list[str] = []
        self._plot_stems: set[str] = set()

    def add(self, path: Path, report: facetrust.Report | None, error: dict[str, str] | None) -> None:
        """Write the page and plots of one input; an unwritable file is recorded, never raised."""
        try:
            if self.folder is not None:
                if report is None:
                    assert error is not None
                    self.folder.add_error(str(path), error["type"], error["message"])
                else:
                    explanations, thumbnails, note = evidence(path, report, self.detector)
                    self.folder.add_report(str(path), report, explanations=explanations, thumbnails=thumbnails,
                                           note=note)
            if self.plots_dir is not None and report is not None:
                write_timeline_pngs(report, self.plots_dir, self._plot_stem(path.name))
        except OSError as exc:
            self.failures.append(f"{path}: {exc}")

    def _plot_stem(self, name: str) -> str:
        stem, number = name, 1
        while stem in self._plot_stems:  # two inputs of the same name in different folders
            number += 1
            stem = f"{name}-{number}"
        self._plot_stems.add(stem)
        return stem

    def finish(self) -> None:
        """Write ``index.html`` (when pages were asked for)."""
        if self.folder is None:
            return
        try:
            self.folder.write_index()
        except OSError as exc:
            self.failures.append(f"index.html: {exc}")
