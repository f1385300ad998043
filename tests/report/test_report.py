import json

from facetrust.report import FrameScore, PersonReport, Report, format_time
from facetrust.types import Label


def _person(n: int, label: Label, p: float, start: float, end: float, spans=()) -> PersonReport:
    return PersonReport(
        person=n, verdict=label, fake_probability=p, start=start, end=end, suspicious_spans=list(spans),
        frames_used=3, median_face_size=120.0, decides_verdict=True,
        frame_scores=[FrameScore(0, start, p, (0.0, 0.0, 10.0, 10.0), 0.99)],
    )


def _report(people, verdict=Label.FAKE, p=0.91, kind="video") -> Report:
    return Report(
        path="clip.mp4", media_kind=kind, verdict=verdict, fake_probability=p, threshold=0.5,
        uncertain_band=(0.4, 0.6), people=people, frames_sampled=32, faces_found=64, faces_dropped={},
        duration=120.0, width=640, height=480, timings={"total": 1.0}, detector="d", weights_sha256="ab",
        face_detector="mtcnn", version="0",
    )


def test_format_time() -> None:
    assert format_time(3.2) == "0:03"
    assert format_time(63.4) == "1:03"
    assert format_time(3725) == "1:02:05"
    assert format_time(3.24, tenths=True) == "0:03.2" and format_time(63.45, tenths=True) == "1:03.5"


def test_summary_names_the_fake_person_and_when() -> None:
    report = _report([_person(1, Label.FAKE, 0.91, 1, 10, [(3, 9)]), _person(2, Label.REAL, 0.04, 0, 12)])
    assert report.summary() == "FAKE  0.91  person 1 at 0:03–0:09 (person 2 REAL 0.04)"


def test_summary_for_images_and_no_face() -> None:
    image = _report([_person(1, Label.REAL, 0.1, 0, 0)], verdict=Label.REAL, p=0.1, kind="image")
    assert image.summary() == "REAL  0.10  person 1"
    none = _report([], verdict=Label.NO_FACE, p=None)
    assert none.summary().startswith("NO_FACE")


def test_to_json_round_trips_with_plain_labels() -> None:
    report = _report([_person(1, Label.FAKE, 0.91, 1, 10, [(3, 9)])])
    data = json.loads(report.to_json())
    assert data["verdict"] == "FAKE" and data["people"][0]["verdict"] == "FAKE"
    assert data["people"][0]["suspicious_spans"] == [[3, 9]]
    for key in ("path", "fake_probability", "threshold", "people", "frames_sampled", "faces_found",
                "timings", "detector", "weights_sha256"):
        assert key in data


def test_summary_when_no_person_decides() -> None:
    brief = PersonReport(
        person=1, verdict=Label.FAKE, fake_probability=0.9, start=2.0, end=2.0, suspicious_spans=[(2.0, 2.0)],
        frames_used=1, median_face_size=80.0, decides_verdict=False, frame_scores=[],
    )
    assert _report([brief], p=0.9).summary() == "FAKE  0.90  person 1 at 0:02"
