"""The shareable HTML report: self-contained, plain words, every user string escaped, its own page for
NO_FACE and errors, an index for a batch."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from facetrust.explain.records import FaceExplanation, SuspiciousFace
from facetrust.report import FrameScore, PersonReport, Report
from facetrust.report.html import ReportFolder, render_error_html, render_index_html, render_report_html
from facetrust.types import Label

XSS = "<img src=x onerror=alert(1)>.mp4"


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))


def _person(n: int = 1, label: Label = Label.FAKE, p: float = 0.91, spans=((1.0, 2.0),), brief=False) -> PersonReport:
    scores = [FrameScore(i, 0.5 * i, q, (10.0, 20.0, 90.0, 110.0), 0.99) for i, q in enumerate([0.2, 0.7, 0.95, 0.9])]
    return PersonReport(person=n, verdict=label, fake_probability=p, start=0.0, end=1.5, suspicious_spans=list(spans),
                        frames_used=4, median_face_size=80.0, decides_verdict=not brief, frame_scores=scores)


def _report(people=None, verdict: Label = Label.FAKE, p: float | None = 0.91, path: str = "/media/clip.mp4",
            kind: str = "video", warnings=()) -> Report:
    return Report(path=path, media_kind=kind, verdict=verdict, fake_probability=p, threshold=0.5,
                  uncertain_band=(0.4, 0.6), people=[_person()] if people is None else people, frames_sampled=4,
                  faces_found=4, faces_dropped={"too_small": 2, "low_score": 0}, duration=2.0, width=640, height=480,
                  timings={"detect": 0.5, "total": 1.25}, detector="blend_wholeface", weights_sha256="ab" * 32,
                  face_detector="mtcnn", version="0.1.0", warnings=list(warnings))


def _explanation(label: Label = Label.FAKE, person: int = 1) -> FaceExplanation:
    rng = np.random.default_rng(0)
    return FaceExplanation(person=person, frame_index=12, timestamp=1.0, box=(10.0, 20.0, 90.0, 110.0),
                           fake_probability=0.95 if label is Label.FAKE else 0.1, label=label,
                           is_evidence=label is Label.FAKE, method="gradcam", member="sbi_effnet_lite0",
                           crop=rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                           heatmap=rng.random((64, 64), dtype=np.float32))


def _thumbnail(person: int = 1) -> SuspiciousFace:
    return SuspiciousFace(person=person, frame_index=12, timestamp=1.0, box=(10.0, 20.0, 90.0, 110.0),
                          fake_probability=0.95, label=Label.FAKE, rank=0, crop=np.full((64, 64, 3), 128, np.uint8))


def _assert_self_contained(page: str) -> None:
    tags = _Tags(page).tags
    assert not [t for t, _ in tags if t in {"script", "link", "iframe", "object", "embed", "base", "form"}]
    for tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)  # no event handler attribute at all
        if "src" in attrs:
            assert (attrs["src"] or "").startswith("data:image/"), (tag, attrs)
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    assert "http://" not in page and "https://" not in page and "url(" not in page


def test_fake_video_page_says_it_in_plain_words_with_the_evidence() -> None:
    report = _report(people=[_person(1), _person(2, Label.REAL, 0.05, spans=())])
    page = render_report_html(report, explanations=[_explanation(), _explanation(Label.REAL, person=2)],
                              thumbnails=[_thumbnail(1), _thumbnail(1)])
    _assert_self_contained(page)
    text = re.sub(r"<[^>]+>", " ", page)
    assert "The faces in this video look altered." in text
    assert "Fake probability  0.91 , about 91 in 100" in text and "calibrated" in text
    assert "UNCERTAIN band" in text and "0.40" in text and "0.60" in text  # the band explained with its edges
    assert "Person 1" in text and "Person 2" in text and "Seen from 0:00.0 to 0:01.5" in text
    assert "Suspicious at 0:01.0–0:02.0" in text
    assert text.count("data:") == 0 and page.count('src="data:image/jpeg') == 4  # 2 thumbnails + 2 heatmap panels
    assert page.count('src="data:image/png') == 2  # one timeline per person
    assert "evidence of alteration" in text and "not evidence: the detector calls this face REAL" in text
    for detail in ("blend_wholeface", "ab" * 32, "mtcnn", "frames sampled", "2 too small to judge", "1.25 s"):
        assert detail in text


def test_every_user_string_is_escaped() -> None:
    report = _report(path=f"/uploads/{XSS}", warnings=['<script>alert("w")</script>'])
    page = render_report_html(report, note="<b onmouseover=alert(3)>note</b>")
    _assert_self_contained(page)
    assert "<img src=x" not in page and "<script>alert" not in page and "<b onmouseover" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in page
    error = render_error_html(XSS, "UnsupportedMediaError", f"{XSS}: not an image or video <b>format</b>")
    _assert_self_contained(error)
    assert "<img src=x" not in error and "&lt;b&gt;format&lt;/b&gt;" in error
    index = render_index_html([])
    _assert_self_contained(index)


def test_index_escapes_names_and_quotes_links() -> None:
    from facetrust.report.html import IndexEntry

    page = render_index_html([IndexEntry(XSS, 'a"b.html', report=_report()),
                              IndexEntry("bad.mp4", None, error_type="CorruptMediaError", error_message="<i>x</i>")])
    _assert_self_contained(page)
    assert 'href="a&quot;b.html"' in page and "&lt;img src=x" in page and "&lt;i&gt;x&lt;/i&gt;" in page
    assert "2 file(s): 1 ERROR, 1 FAKE" in page
    assert "person 1 at 0:01.0–0:02.0" in page  # which person, when (without the verdict repeated)


def test_no_face_page_explains_that_nothing_was_judged() -> None:
    report = _report(people=[], verdict=Label.NO_FACE, p=None)
    page = render_report_html(report)
    _assert_self_contained(page)
    text = re.sub(r"<[^>]+>", " ", page)
    assert "NO_FACE" in text and "nothing was judged" in text and "not a verdict that the file is real" in text
    assert "2 too small to judge" in text
    assert "Fake probability" not in text and "Person 1" not in text


def test_error_page_names_the_error_in_plain_words() -> None:
    page = render_error_html("clip.mp4", "CorruptMediaError", "clip.mp4: moov atom not found")
    text = re.sub(r"<[^>]+>", " ", page)
    assert "Could not analyse this file" in text and "damaged" in text and "moov atom not found" in text
    assert "not a verdict" in text
    assert "could not analyse" in render_error_html("x", "SomethingNew", "boom").lower()


def test_image_page_has_a_gauge_and_no_time_span() -> None:
    person = dataclasses.replace(_person(), frame_scores=[FrameScore(0, 0.0, 0.86, (0, 0, 9, 9), 0.9)],
                                 suspicious_spans=[])
    page = render_report_html(_report(people=[person], kind="image", path="photo.jpg"))
    text = re.sub(r"<[^>]+>", " ", page)
    assert "The faces in this image look altered." in text and "Seen from" not in text
    assert "on the decision scale" in text and "No heatmaps in this report" in text


def test_provenance_is_shown_with_its_meaning_and_escaped() -> None:
    from facetrust.provenance.types import Provenance, ProvenanceStatus

    provenance = Provenance(status=ProvenanceStatus.VERIFIED_AI_GENERATED, checked=True, manifest_present=True,
                            meaning="A valid Content Credential declares this file AI-generated.",
                            signer="<b>Acme</b>")
    report = dataclasses.replace(_report(), provenance=provenance,
                                 verdict_reason="raised to FAKE by provenance <i>declared</i>")
    page = render_report_html(report)
    assert "<h2>Provenance</h2>" in page and "declares this file AI-generated" in page
    assert "&lt;b&gt;Acme&lt;/b&gt;" in page and "verified_ai_generated" in page
    assert "Why this verdict: raised to FAKE by provenance &lt;i&gt;declared&lt;/i&gt;" in page


def test_report_to_html_delegates() -> None:
    page = _report().to_html(explanations=[_explanation()])
    assert page.startswith("<!DOCTYPE html>") and "gradcam" in page


def test_report_folder_writes_unique_pages_and_an_index(tmp_path) -> None:
    folder = ReportFolder(tmp_path / "out")
    first = folder.add_report("/a/clip.mp4", _report())
    second = folder.add_report("/b/clip.mp4", _report())
    third = folder.add_error(f"/c/{XSS}", "UnsupportedMediaError", "not media")
    index_named = folder.add_report("/d/index", _report())
    index = folder.write_index()
    assert [p.name for p in (first, second, third, index_named)] == [
        "clip.mp4.html", "clip.mp4-2.html", "img_src_x_onerror_alert_1_.mp4.html", "index-2.html"]
    assert index.name == "index.html"
    listing = index.read_text(encoding="utf-8")
    for page in (first, second, third, index_named):
        assert f'href="{page.name}"' in listing and page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list((tmp_path / "out").glob("*.partial"))


@pytest.mark.parametrize("label", [Label.REAL, Label.UNCERTAIN])
def test_headline_for_real_and_uncertain(label: Label) -> None:
    page = render_report_html(_report(verdict=label, p=0.1 if label is Label.REAL else 0.5))
    expected = {"REAL": "No sign of alteration was found", "UNCERTAIN": "cannot tell whether"}[str(label)]
    assert expected in page
