"""The web app's logic without Streamlit: uploads checked from their bytes, words, comparison, downloads."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import facetrust
from facetrust.app import logic
from facetrust.media.testing import write_image, write_video
from facetrust.report import FrameScore, PersonReport, Report
from facetrust.types import Label

XSS = "<img src=x onerror=alert(1)>"


def _report(verdict: Label = Label.FAKE, p: float | None = 0.86, people: int = 1, kind: str = "image") -> Report:
    persons = [PersonReport(person=n, verdict=verdict, fake_probability=p or 0.0, start=0.0, end=2.0,
                            suspicious_spans=[(0.5, 1.0)], frames_used=3, median_face_size=90.0, decides_verdict=True,
                            frame_scores=[FrameScore(0, 0.0, p or 0.0, (1, 2, 3, 4), 0.9)]) for n in range(1, people + 1)]
    return Report(path="/tmp/x/abc/upload.jpg", media_kind=kind, verdict=verdict, fake_probability=p, threshold=0.61,
                  uncertain_band=(0.44, 0.70), people=persons, frames_sampled=1, faces_found=people,
                  faces_dropped={"too_small": 1}, duration=2.0 if kind == "video" else None, width=64, height=64,
                  timings={"total": 0.5}, detector="blend_wholeface", weights_sha256="cd" * 32,
                  face_detector="mtcnn", version="0.1.0")


def test_store_upload_reads_the_type_from_the_bytes_not_the_name(tmp_path) -> None:
    png = write_image(tmp_path / "src.png", np.full((32, 32, 3), 120, np.uint8)).read_bytes()
    stored = logic.store_upload("holiday.mp4", png, tmp_path / "up")  # an image named like a video
    assert stored.kind == "image" and stored.size == len(png) and stored.name == "holiday.mp4"
    assert stored.path.read_bytes() == png and stored.path.parent.name == stored.sha256[:16]
    video = write_video(tmp_path / "v.mp4", [np.full((32, 32, 3), 90, np.uint8)] * 3)
    assert logic.store_upload("clip.jpg", video.read_bytes(), tmp_path / "up").kind == "video"
    again = logic.store_upload("holiday.mp4", png, tmp_path / "up")  # same bytes: same place, not rewritten
    assert again.path == stored.path and again.sha256 == stored.sha256


def test_bad_uploads_are_named_errors_that_quote_the_users_name(tmp_path) -> None:
    with pytest.raises(facetrust.UnsupportedMediaError) as excinfo:
        logic.store_upload(f"{XSS}.mp4", b"this is not a video\n" * 50, tmp_path)
    assert f"{XSS}.mp4" in str(excinfo.value) and str(tmp_path) not in str(excinfo.value)
    with pytest.raises(facetrust.EmptyMediaError):
        logic.store_upload("empty.jpg", b"", tmp_path)
    with pytest.raises(facetrust.MediaTooLargeError, match="over the upload limit of 1 MB"):
        logic.store_upload("big.jpg", b"\xff" * (1024 * 1024 + 1), tmp_path, limit_mb=1)
    assert not list(tmp_path.glob("*/*.partial"))


@pytest.mark.parametrize(("name", "safe"), [("../../etc/passwd", "passwd"), ("a\\b\\c.jpg", "c.jpg"),
                                           ("x\x00y\n.png", "x_y_.png"), ("..", "upload"), ("", "upload"),
                                           (f"{XSS}.mp4", "<img src=x onerror=alert(1)>.mp4")])
def test_safe_name_keeps_one_harmless_path_part(name: str, safe: str) -> None:
    assert logic.safe_name(name) == safe


def test_max_upload_mb_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(logic.MAX_UPLOAD_ENV, raising=False)
    assert logic.max_upload_mb() == 200
    monkeypatch.setenv(logic.MAX_UPLOAD_ENV, "5")
    assert logic.max_upload_mb() == 5
    for bad in ("lots", "0"):
        monkeypatch.setenv(logic.MAX_UPLOAD_ENV, bad)
        with pytest.raises(facetrust.ConfigError):
            logic.max_upload_mb()


def test_progress_stages_fill_one_bar_in_order() -> None:
    steps = [("faces", 0.0), ("faces", 0.5), ("faces", 1.0), ("scoring", 0.0), ("done", 1.0), ("explain", 0.5),
             ("explain", 1.0)]
    values = [logic.stage_fraction(stage, f) for stage, f in steps]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    assert logic.stage_fraction("faces", 7.0) == pytest.approx(0.6)  # clamped


def test_answer_in_plain_words() -> None:
    headline, details = logic.answer(_report())
    assert headline == "FAKE 0.86: the faces in this image look altered"
    assert "about 86 in 100" in details and "Which person, when: person 1" in details and "0.44" in details
    headline, details = logic.answer(_report(Label.NO_FACE, None, people=0))
    assert headline == "No face to judge" and "not a verdict that it is real" in details
    assert logic.answer(_report(Label.UNCERTAIN, 0.5))[0].startswith("UNCERTAIN 0.50")


def test_friendly_errors_carry_no_user_text_and_details_hide_storage_paths(tmp_path) -> None:
    error = facetrust.CorruptMediaError(f"{tmp_path}/abc/{XSS}.mp4: moov atom not found")
    words = logic.friendly_error(error)
    assert "damaged" in words and XSS not in words
    assert "bug" in logic.friendly_error(RuntimeError("boom"))
    detail = logic.error_detail(error, "mine.mp4", tmp_path / "abc" / f"{XSS}.mp4")
    assert detail == "CorruptMediaError: mine.mp4: moov atom not found"


def test_downloads_and_comparison_cover_every_detector_and_person() -> None:
    reports = {"default": _report(people=2), "sbi_effnet_lite0": _report(Label.NO_FACE, None, people=0)}
    rows = list(csv.DictReader(io.StringIO(logic.results_csv(reports, f"{XSS}.jpg"))))
    assert [(r["detector"], r["person"]) for r in rows] == [("default", "1"), ("default", "2"), ("sbi_effnet_lite0", "")]
    assert rows[0]["file"] == f"{XSS}.jpg" and rows[0]["suspicious_spans"] == "0.50-1.00"
    data = json.loads(logic.results_json(reports, "photo.jpg"))
    assert data["file"] == "photo.jpg" and set(data["results"]) == set(reports)
    assert data["results"]["default"]["path"] == "photo.jpg"  # the user's name, not the storage path
    table = logic.comparison_rows(reports)
    assert [(r["detector"], r["verdict"], r["fake probability"]) for r in table] == [
        ("default", "FAKE", 0.86), ("sbi_effnet_lite0", "NO_FACE", None)]
    page = logic.report_html(_report(), f"{XSS}.jpg")
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page and f"{XSS}.jpg" not in page
    stats = {r["what"]: r["value"] for r in logic.stats_rows(_report())}
    assert stats["faces dropped"] == "1 too small" and stats["time: total"] == "0.50 s"


def test_frames_are_clamped_to_the_apps_range(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr(facetrust, "analyze", lambda path, **kw: seen.update(kw) or "report")
    logic.analyse(tmp_path, "default", 5000)
    assert seen["frames"] == 300
    logic.analyse(tmp_path, "default", 1)
    assert seen["frames"] == 10


def test_result_cache_keeps_the_most_recent_and_never_stores_a_failure() -> None:
    cache = logic.ResultCache(max_entries=2)
    calls = []
    make = lambda value: (lambda: calls.append(value) or value)  # noqa: E731
    assert cache.get_or_make(("a",), make(1)) == 1 and cache.get_or_make(("a",), make(99)) == 1
    cache.get_or_make(("b",), make(2))
    cache.get_or_make(("a",), make(99))  # a is now the most recent
    cache.get_or_make(("c",), make(3))  # evicts b
    assert len(cache) == 2 and cache.get_or_make(("b",), make(4)) == 4
    assert calls == [1, 2, 3, 4]

    def broken() -> int:
        raise facetrust.CorruptMediaError("bad")

    with pytest.raises(facetrust.CorruptMediaError):
        cache.get_or_make(("x",), broken)
    assert cache.get_or_make(("x",), make(5)) == 5
