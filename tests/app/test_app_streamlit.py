"""The Streamlit script driven by Streamlit's AppTest (in-process, no browser): uploads, the answer, the
gallery, timeline and heatmap, downloads, a bad file, several detectors, the demo files."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from facetrust.app import APP_SCRIPT
from facetrust.demo import self_blended_astronaut
from facetrust.media.testing import write_image

XSS = "<img src=x onerror=alert(1)>"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake_photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = write_image(tmp_path_factory.mktemp("app") / "fake.jpg", self_blended_astronaut())
    return path.read_bytes()


def _app() -> AppTest:
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=240)
    app.run()
    assert not app.exception
    return app


def _upload(app: AppTest, name: str, data: bytes) -> None:
    app.sidebar.file_uploader(key="upload").set_value((name, data, "application/octet-stream"))
    app.run()
    assert not app.exception, app.exception


def test_fake_photo_gets_the_answer_evidence_and_downloads_then_a_bad_file_a_message(fake_photo: bytes) -> None:
    app = _app()
    assert app.header[0].value == "Check a face image or video"
    _upload(app, f"{XSS}.jpg", fake_photo)
    assert re.fullmatch(r"## :red\[FAKE 0\.\d\d: the faces in this image look altered\]", app.markdown[0].value)
    assert "Which person, when: person 1" in app.markdown[1].value
    assert f"file: {XSS}.jpg" in [t.value for t in app.text]  # shown as plain text, never as markup
    assert re.fullmatch(r"person 1: FAKE 0\.\d\d", app.subheader[0].value) and app.subheader[1].value == "Where the detector looked"
    assert len(app.get("image")) == 3  # face thumbnail, probability gauge, Grad-CAM panel
    assert [b.proto.label for b in app.get("download_button")] == ["JSON", "CSV", "HTML report"]
    assert app.get("progress")[0].proto.value == 100

    _upload(app, f"{XSS}.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 300)
    assert "Cannot analyse this file." in app.error[0].value and XSS not in app.error[0].value
    assert not app.get("download_button")

    _upload(app, "again.jpg", fake_photo)  # the app stays usable (and the result comes from the cache)
    assert app.markdown[0].value.startswith("## :red[FAKE 0.")


def test_several_detectors_are_compared_side_by_side(fake_photo: bytes) -> None:
    app = _app()
    app.sidebar.multiselect(key="detectors").set_value(["default", "sbi_effnet_lite0"])
    _upload(app, "photo.jpg", fake_photo)
    assert "Detectors side by side" in [s.value for s in app.subheader]
    (table,) = [d.value for d in app.dataframe if "detector" in d.value.columns]
    assert list(table["detector"]) == ["default", "sbi_effnet_lite0"]
    assert list(table["verdict"]) == ["FAKE", "FAKE"]


def test_no_detector_chosen_asks_for_one(fake_photo: bytes) -> None:
    app = _app()
    app.sidebar.multiselect(key="detectors").set_value([])
    _upload(app, "photo.jpg", fake_photo)
    assert app.info[0].value == "Choose at least one detector in the sidebar."


def test_bundled_demo_files_can_be_picked() -> None:
    app = _app()
    app.sidebar.radio(key="source").set_value("Bundled demo file")
    app.run()
    demo = app.sidebar.selectbox(key="demo")
    assert [o for o in demo.options if "astronaut_selfblended.jpg" in o]
    demo.set_value(next(o for o in demo.options if "astronaut_real.jpg" in o))
    app.run()
    assert not app.exception
    assert app.markdown[0].value.startswith("## :green[REAL")
