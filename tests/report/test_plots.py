"""Timeline and comparison plots of a Report (matplotlib, Agg): what is drawn, not just that a file appears."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from facetrust.errors import InputError
from facetrust.report import FrameScore, PersonReport, Report
from facetrust.report.plots import (
    VERDICT_COLOURS,
    comparison_figure,
    figure_png,
    safe_file_stem,
    timeline_figure,
    write_timeline_pngs,
)
from facetrust.types import Label

TIMES = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
PROBABILITIES = [0.1, 0.2, 0.8, 0.9, 0.3, 0.2, 0.95, 0.1]


def _person(n: int = 1, spans=((1.0, 1.5), (3.0, 3.0)), label: Label = Label.FAKE, p: float = 0.43) -> PersonReport:
    scores = [FrameScore(i, t, q, (10.0, 10.0, 60.0, 60.0), 0.99) for i, (t, q) in enumerate(zip(TIMES, PROBABILITIES, strict=True))]
    return PersonReport(person=n, verdict=label, fake_probability=p, start=0.0, end=3.5, suspicious_spans=list(spans),
                        frames_used=len(scores), median_face_size=50.0, decides_verdict=True,
                        frame_scores=scores[::-1])  # out of time order on purpose


def _report(people, kind: str = "video", verdict: Label = Label.FAKE, p: float | None = 0.43) -> Report:
    return Report(path="clip.mp4", media_kind=kind, verdict=verdict, fake_probability=p, threshold=0.5,
                  uncertain_band=(0.4, 0.6), people=people, frames_sampled=8, faces_found=8, faces_dropped={},
                  duration=4.0, width=320, height=240, timings={"total": 1.0}, detector="d", weights_sha256="ab",
                  face_detector="mtcnn", version="0")


def _fake_spans(ax) -> list[tuple[float, float]]:
    red = to_rgba(VERDICT_COLOURS["FAKE"], 0.18)
    return [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches
            if np.allclose(p.get_facecolor(), red)]


def test_timeline_draws_frames_in_time_order_with_band_threshold_and_spans() -> None:
    person = _person()
    ax = timeline_figure(_report([person]), person).axes[0]
    line = next(ln for ln in ax.lines if ln.get_label() == "fake probability per frame")
    assert list(line.get_xdata()) == TIMES and list(line.get_ydata()) == PROBABILITIES
    threshold = next(ln for ln in ax.lines if ln.get_label().startswith("threshold"))
    assert set(threshold.get_ydata()) == {0.5}
    spans = _fake_spans(ax)
    assert len(spans) == 2
    # each span is widened by half the sampling step (0.25 s) so a single-frame span stays visible
    assert spans[0] == pytest.approx((0.75, 1.75)) and spans[1] == pytest.approx((2.75, 3.25))
    band = [p for p in ax.patches if (p.get_label() or "").startswith("UNCERTAIN band")]
    assert len(band) == 1 and band[0].get_y() == pytest.approx(0.4) and band[0].get_height() == pytest.approx(0.2)
    assert ax.get_xlim() == (0.0, 4.0) and ax.get_ylim() == (0.0, 1.0)


def test_timeline_of_a_real_person_has_no_shaded_span() -> None:
    person = _person(spans=(), label=Label.REAL, p=0.1)
    assert _fake_spans(timeline_figure(_report([person]), person).axes[0]) == []


def test_image_gets_a_gauge_with_the_probability_marked() -> None:
    person = dataclasses.replace(_person(), frame_scores=[FrameScore(0, 0.0, 0.86, (0, 0, 9, 9), 0.9)],
                                 fake_probability=0.86)
    ax = timeline_figure(_report([person], kind="image"), person).axes[0]
    marker = next(ln for ln in ax.lines if ln.get_label() == "fake probability")
    assert list(marker.get_xdata()) == [0.86]
    assert ax.get_xlim() == (0.0, 1.0)


def test_dark_figures_are_drawn_on_a_dark_background() -> None:
    person = _person()
    png = figure_png(timeline_figure(_report([person]), person, dark=True))
    corner = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[2, 2]
    assert corner.max() < 40
    light = np.asarray(Image.open(io.BytesIO(figure_png(timeline_figure(_report([person]), person)))).convert("RGB"))
    assert light[2, 2].min() > 240


def test_comparison_has_one_bar_per_detector_and_lists_no_face() -> None:
    person = _person()
    reports = {"default": _report([person]), "other": _report([person], verdict=Label.REAL, p=0.12),
               "blind": _report([], verdict=Label.NO_FACE, p=None)}
    ax = comparison_figure(reports).axes[0]
    bars = [p for p in ax.patches if p.get_height() == pytest.approx(0.28)]
    assert sorted(b.get_width() for b in bars) == pytest.approx([0.12, 0.43])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["default", "other", "blind"]
    assert any("no usable face" in t.get_text() for t in ax.texts)
    with pytest.raises(InputError):
        comparison_figure({})


def test_write_timeline_pngs_one_per_person_with_a_safe_name(tmp_path) -> None:
    report = _report([_person(1), _person(2)])
    paths = write_timeline_pngs(report, tmp_path / "plots", "<img src=x onerror=alert(1)>.mp4")
    assert [p.name for p in paths] == ["img_src_x_onerror_alert_1_.mp4.person1.png",
                                       "img_src_x_onerror_alert_1_.mp4.person2.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 400
    assert write_timeline_pngs(_report([], verdict=Label.NO_FACE, p=None), tmp_path / "none", "x.mp4") == []


@pytest.mark.parametrize(("name", "stem"), [("../../etc/passwd", "etc_passwd"), ("...", "media"), ("", "media"),
                                           ("clip ü.mp4", "clip_.mp4"), (".hidden", "hidden")])
def test_safe_file_stem(name: str, stem: str) -> None:
    assert safe_file_stem(name) == stem
