"""The facetrust web app (Streamlit script; layout only). Started by ``facetrust app``; the work is done by
:mod:`facetrust.app.logic` through the public API.

Streamlit runs this file top to bottom on every interaction: models stay loaded in the process (facetrust
keeps its pipelines), reports and heatmaps are cached per file hash and options (``st.cache_data``)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

import facetrust
from facetrust.app import logic
from facetrust.report.plots import comparison_figure, figure_png, timeline_figure

logger = logging.getLogger("facetrust.app")

_MARKDOWN_COLOUR = {"FAKE": "red", "REAL": "green", "UNCERTAIN": "orange", "NO_FACE": "gray"}


# ------------------------------------------------------------------------------------------ cached work


@st.cache_resource
def _upload_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="facetrust-app-"))


@st.cache_resource(show_spinner="Preparing the demo files (once)…")
def _demo_items() -> dict[str, Any]:
    from facetrust.demo import make_demo_media

    items = make_demo_media(_upload_dir() / "demo")
    return {f"{item.description} ({item.path.name})": item for item in items}


@st.cache_data(show_spinner=False)
def _detector_names() -> list[str]:
    names = [info.name for info in facetrust.list_detectors()]
    return ["default", *[n for n in names if n != "default"]]


@st.cache_data(show_spinner=False)
def _methods() -> list[str]:
    return logic.explain_methods()


@st.cache_resource
def _results() -> logic.ResultCache:
    return logic.ResultCache(max_entries=64)


def _report(stored: logic.StoredUpload, detector: str, frames: int, progress: Any) -> facetrust.Report:
    """Analysed once per file hash and options, whatever the file's name and whichever session asks."""
    return _results().get_or_make(("report", stored.sha256, detector, frames),
                                  lambda: logic.analyse(stored.path, detector, frames, progress))


def _evidence(stored: logic.StoredUpload, detector: str, frames: int, method: str, report: facetrust.Report,
              progress: Any) -> tuple[list[Any], list[Any], str | None]:
    return _results().get_or_make(("evidence", stored.sha256, detector, frames, method),
                                  lambda: logic.explain_faces(stored.path, report, detector, method, progress))


# ------------------------------------------------------------------------------------------ page parts


def _sidebar() -> tuple[logic.StoredUpload | None, list[str], int, str]:
    sidebar = st.sidebar
    sidebar.title("facetrust")
    sidebar.caption("Were the faces in this image or video altered?")
    source = sidebar.radio("Media", ["Upload a file", "Bundled demo file"], key="source")
    stored: logic.StoredUpload | None = None
    if source == "Upload a file":
        limit = logic.max_upload_mb()
        uploaded = sidebar.file_uploader(f"Image or video (up to {limit} MB)", key="upload",
                                         max_upload_size=limit)
        if uploaded is not None:
            stored = _store(uploaded.name, uploaded.file_id, uploaded.getvalue)
    else:
        items = _demo_items()
        choice = sidebar.selectbox("Demo file", list(items), key="demo")
        if choice is not None:
            item = items[choice]
            stored = _store(item.path.name, f"demo:{item.path}", item.path.read_bytes)
    names = _detector_names()
    detectors = sidebar.multiselect("Detectors (several: side-by-side comparison)", names, default=["default"],
                                    key="detectors")
    frames = sidebar.slider("Frames per video", *logic.FRAMES_RANGE, value=logic.DEFAULT_FRAMES, key="frames",
                            help="Evenly spaced frames analysed per video (images are one frame).")
    methods = _methods()
    method = sidebar.selectbox("Heatmap method", methods,
                               index=methods.index("gradcam") if "gradcam" in methods else 0, key="method")
    sidebar.caption("Theme: ⋮ menu → Settings. Files stay on this machine.")
    return stored, detectors, frames, method


def _store(name: str, file_id: str, read: Any) -> logic.StoredUpload | None:
    """Store and check an upload once per file (kept in the session); a bad file shows a friendly error."""
    remembered = st.session_state.get("stored")
    if remembered is not None and remembered[0] == file_id:
        stored_or_error = remembered[1]
    else:
        try:
            stored_or_error = logic.store_upload(name, read(), _upload_dir() / "uploads")
        except facetrust.FacetrustError as exc:
            stored_or_error = exc
        st.session_state["stored"] = (file_id, stored_or_error)
    if isinstance(stored_or_error, Exception):
        _cannot_analyse(stored_or_error, name, None)
        return None
    return stored_or_error


def _cannot_analyse(exc: BaseException, name: str, stored: Path | None) -> None:
    """A friendly message (Markdown without anything from the user) and the exact error as plain text."""
    with st.container(key="error"):
        st.error(f"**Cannot analyse this file.** {logic.friendly_error(exc)}", icon=":material/error:")
        st.text(f"file: {name}\n{logic.error_detail(exc, name, stored)}")


def _welcome() -> None:
    st.header("Check a face image or video")
    st.markdown(
        "Upload an image or a video in the sidebar, or pick a bundled demo file. facetrust finds the faces, "
        "scores each one with its detector(s) and tells you, in plain words, whether they look altered, which "
        "person and when, with the evidence: the faces it saw, a timeline, and heatmaps of where it looked.")


def _answer(report: facetrust.Report, name: str) -> None:
    headline, details = logic.answer(report)
    colour = _MARKDOWN_COLOUR[str(report.verdict)]
    with st.container(key="answer", border=True):
        st.markdown(f"## :{colour}[{headline}]")
        st.text(f"file: {name}")
        st.markdown(details)
        for warning in report.warnings:
            st.warning(warning, icon=":material/error:")


def _people(report: facetrust.Report, thumbnails: list[Any], dark: bool) -> None:
    by_person: dict[int, list[Any]] = {}
    for thumb in thumbnails:
        by_person.setdefault(int(thumb.person), []).append(thumb)
    for person in report.people:
        st.subheader(logic.person_caption(report, person))
        faces = by_person.get(person.person, [])
        if faces:
            with st.container(key=f"gallery-{person.person}"):
                columns = st.columns(max(len(faces), 4))
                for column, face in zip(columns, faces, strict=False):
                    column.image(face.crop, caption=f"{face.timestamp:.1f} s · p {face.fake_probability:.2f}",
                                 width=140)
        with st.container(key=f"timeline-{person.person}"):
            st.image(figure_png(timeline_figure(report, person, dark=dark)),
                     caption="Fake probability " + ("per sampled frame: grey = UNCERTAIN band, dashed = "
                                                    "threshold, red = suspicious frames" if report.is_video
                                                    else "on the decision scale"))
        if person.members:
            st.dataframe([{"ensemble member": m.title, "its verdict": str(m.verdict),
                           "its probability": m.fake_probability} for m in person.members], hide_index=True)


def _heatmaps(heatmaps: list[Any], note: str | None) -> None:
    st.subheader("Where the detector looked")
    if note:
        st.text(note)  # plain text: it may quote an error message
    if not heatmaps:
        return
    st.caption(f"{heatmaps[0].method}: face crop | heatmap | overlay. Warm colours pushed the score towards FAKE; "
               "grey maps belong to faces the detector does not call FAKE and are not evidence.")
    with st.container(key="heatmaps"):
        columns = st.columns(2)
        for number, item in enumerate(heatmaps):
            columns[number % 2].image(item.panel(), caption=" · ".join(item.caption))


def _comparison(reports: dict[str, facetrust.Report], dark: bool) -> None:
    st.subheader("Detectors side by side")
    with st.container(key="comparison"):
        st.dataframe(logic.comparison_rows(reports), hide_index=True)
        st.image(figure_png(comparison_figure(reports, dark=dark)))


def _downloads(reports: dict[str, facetrust.Report], primary: str, name: str, heatmaps: list[Any],
               thumbnails: list[Any]) -> None:
    stem = logic.safe_name(name)
    st.subheader("Downloads")
    with st.container(key="downloads", horizontal=True):
        st.download_button("JSON", logic.results_json(reports, name), file_name=f"{stem}.facetrust.json",
                           mime="application/json", icon=":material/data_object:", key="download-json")
        st.download_button("CSV", logic.results_csv(reports, name), file_name=f"{stem}.facetrust.csv",
                           mime="text/csv", icon=":material/table_chart:", key="download-csv")
        st.download_button("HTML report", logic.report_html(reports[primary], name, heatmaps, thumbnails),
                           file_name=f"{stem}.facetrust.html", mime="text/html", icon=":material/description:",
                           key="download-html")


def _stats(report: facetrust.Report) -> None:
    with st.expander("Frames, faces and timings"):
        st.dataframe(logic.stats_rows(report), hide_index=True)


# ------------------------------------------------------------------------------------------ the page


def main() -> None:
    st.set_page_config(page_title="facetrust", page_icon=":material/face:", layout="wide")
    stored, detectors, frames, method = _sidebar()
    if stored is None:
        if st.session_state.get("stored") is None:
            _welcome()
        return
    if not detectors:
        st.info("Choose at least one detector in the sidebar.")
        return
    dark = st.context.theme.type == "dark"
    bar = st.progress(0.0, text="starting")
    reports: dict[str, facetrust.Report] = {}
    for number, detector in enumerate(detectors, start=1):
        prefix = f"{detector} ({number}/{len(detectors)}): " if len(detectors) > 1 else ""

        def progress(stage: str, fraction: float, prefix: str = prefix) -> None:
            bar.progress(logic.stage_fraction(stage, fraction), text=prefix + logic.STAGE_WORDS.get(stage, stage))

        progress("faces", 0.0)
        try:
            reports[detector] = _report(stored, detector, frames, progress)
        except Exception as exc:  # FacetrustError: the file; anything else: a bug. Never a traceback.
            if not isinstance(exc, facetrust.FacetrustError):
                logger.exception("analysing %s with %s failed", stored.path, detector)
            bar.empty()
            _cannot_analyse(exc, stored.name, stored.path)
            return
    primary = detectors[0]
    report = reports[primary]
    _answer(report, stored.name)
    people = st.container()
    if len(reports) > 1:
        _comparison(reports, dark)
    evidence_area = st.container()
    heatmaps: list[Any] = []
    thumbnails: list[Any] = []
    if report.people:
        def explaining(stage: str, fraction: float) -> None:
            bar.progress(logic.stage_fraction(stage, fraction), text=logic.STAGE_WORDS[stage])

        explaining("explain", 0.0)
        try:
            heatmaps, thumbnails, note = _evidence(stored, primary, frames, method, report, explaining)
        except Exception as exc:  # a bug in the explanations must not hide the answer
            logger.exception("explaining %s failed", stored.path)
            note = f"No heatmaps: {logic.friendly_error(exc)}"
        with evidence_area:
            _heatmaps(heatmaps, note)
    bar.progress(1.0, text="done")
    with people:
        _people(report, thumbnails, dark)
    _stats(report)
    _downloads(reports, primary, stored.name, heatmaps, thumbnails)


main()
