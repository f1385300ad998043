"""``watch``: rolling verdicts on a file played as a stream, the CLI's lines and JSON lines, --until, real-time
pacing that keeps up by skipping frames, and clear errors for sources that cannot be watched."""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import facetrust
from facetrust.cli.main import app
from facetrust.media.testing import write_video
from facetrust.types import CropSpec, DetectorSpec, FaceBox
from facetrust.watch import OnlineTracker, RollingMonitor, open_stream, rolling_verdicts, watch

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output
    )
    return result


def _face_clip(path: Path, seconds: float, fps: int = 10) -> Path:
    """A real face (the astronaut photo) swaying gently on a grey background."""
    from skimage import data

    face = cv2.resize(data.astronaut()[0:300, 100:360], (130, 150), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(int(seconds * fps)):
        frame = np.full((240, 320, 3), 90, np.uint8)
        x = 90 + int(20 * math.sin(i / 8))
        frame[40:190, x : x + 130] = face
        frames.append(frame)
    return write_video(path, frames, fps=fps)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("watch")
    face = _face_clip(root / "face.mp4", 4.0)
    blank = write_video(root / "blank.mp4", [np.full((120, 160, 3), 60 + i, np.uint8) for i in range(30)], fps=10)
    cut = root / "cut.mp4"
    cut.write_bytes(face.read_bytes()[:600])
    (root / "notes.mp4").write_text("not a video\n" * 20)
    streamable = _face_clip(root / "face.mkv", 4.0)  # Matroska: read front to back, as over HTTP
    return {"face": face, "blank": blank, "cut": cut, "notes": root / "notes.mp4", "mkv": streamable}


@pytest.fixture(scope="module")
def http_base(clips: dict[str, Path]):
    """The clips served over HTTP on a free local port, for the duration of the module."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(clips["face"].parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.slow
def test_a_face_clip_gives_rolling_verdicts_for_one_person(clips: dict[str, Path]) -> None:
    verdicts = list(watch(clips["face"], every=1.0, window=2.0, fps=4, realtime=False))
    times = [v.time for v in verdicts]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len(verdicts) == 4 and times[0] == pytest.approx(1.0) and times[-1] == pytest.approx(3.9)
    for verdict in verdicts:
        assert verdict.verdict in {"REAL", "FAKE", "UNCERTAIN"}
        assert [p.person for p in verdict.people] == [1]  # one person, followed all along
        assert 0.0 <= verdict.fake_probability <= 1.0
        assert verdict.window[1] - verdict.window[0] <= 2.0 + 1e-6
        assert verdict.analysed_fps == pytest.approx(4.0, abs=0.3) and verdict.frames_behind == 0
    assert verdicts[-1].people[0].faces == 8  # 2 s of window at 4 frames/s
    # the window's verdict uses the detector's own calibrated rule, as analyze does
    report = facetrust.analyze(clips["face"], frames=16)
    assert report.verdict == verdicts[-1].verdict


def test_a_clip_without_faces_is_no_face(clips: dict[str, Path]) -> None:
    verdicts = list(watch(clips["blank"], every=1.0, window=2.0, fps=4, realtime=False))
    assert [str(v.verdict) for v in verdicts] == ["NO_FACE", "NO_FACE", "NO_FACE"]
    assert all(v.people == [] and v.fake_probability is None and v.frames_analysed > 0 for v in verdicts)


@pytest.mark.slow
def test_cli_jsonl_parses_and_until_stops(clips: dict[str, Path]) -> None:
    result = run("watch", str(clips["face"]), "--no-realtime", "--every", "500ms", "--window", "2s", "--fps", "4",
                 "--until", "2", "--jsonl")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["time"] for line in lines] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert {line["verdict"] for line in lines} <= {"REAL", "FAKE", "UNCERTAIN"}
    assert all(line["people"][0]["person"] == 1 and line["target_fps"] == 4 for line in lines)
    assert "up to 4 frames/s analysed" in result.stderr and "--until reached" in result.stderr
    text = run("watch", str(clips["blank"]), "--no-realtime", "--every", "1")
    assert text.exit_code == 0 and text.stdout.splitlines()[0].split()[:2] == ["0:01.0", "NO_FACE"]


@pytest.mark.parametrize(("source", "error"), [
    ("missing", "MediaNotFoundError"), ("notes", "UnsupportedMediaError"), ("cut", "CorruptMediaError"),
])
def test_sources_that_cannot_be_watched_are_named_errors(clips: dict[str, Path], source: str, error: str) -> None:
    path = clips.get(source, clips["face"].parent / "missing.mp4")
    result = run("watch", str(path), "--no-realtime")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"{error}:"), result.stderr
    with pytest.raises(getattr(facetrust, error)):
        open_stream(path)


def test_bad_settings_and_missing_cameras(clips: dict[str, Path]) -> None:
    assert run("watch", str(clips["face"]), "--every", "soon").exit_code == 2
    assert run("watch", str(clips["face"]), "--until", "-3").exit_code == 2
    assert run("watch", str(clips["face"]), "--detector", "nope").exit_code == 2
    with pytest.raises(facetrust.ConfigError, match="fps"):
        watch(clips["face"], fps=0)
    camera = run("watch", "7")  # no /dev/video7 here (or on any CI runner)
    assert camera.exit_code == 1 and "webcam 7" in camera.stderr


def test_a_stream_url_is_read_like_a_file(http_base: str) -> None:
    stream = open_stream(f"{http_base}/face.mkv")
    assert (stream.kind, stream.live) == ("url", True)
    monitor = RollingMonitor(_ByBrightness(), _Boxes(lambda image: [_box(90)]), window=2.0, target_fps=4)
    verdicts = list(rolling_verdicts(stream, monitor, every=1.0, fps=4, realtime=False))
    assert [v.time for v in verdicts] == pytest.approx([1.0, 2.0, 3.0, 3.9])
    assert verdicts[-1].frames_decoded == 40 and verdicts[-1].people[0].faces == 8
    missing = run("watch", f"{http_base}/gone.mkv")
    assert missing.exit_code == 1 and missing.stderr.startswith("MediaNotFoundError:") and "404" in missing.stderr


# --------------------------------------------------------------------------- the rolling logic, without models


def _box(x: float, y: float = 40.0, size: float = 100.0) -> FaceBox:
    return FaceBox((x, y, x + size, y + size), 0.99, None)


def test_online_tracker_keeps_people_apart_and_forgets_after_a_gap() -> None:
    tracker = OnlineTracker(max_gap=1.0, max_missed=1)
    first = tracker.update(0.0, [_box(10), _box(300)])
    assert [p for p, _ in first] == [1, 2]
    swapped = tracker.update(0.5, [_box(305), _box(14)])  # order in the frame does not matter, position does
    assert {p: face.box[0] for p, face in swapped} == {2: 305, 1: 14}
    assert tracker.update(0.6, [_box(10, size=20)]) == []  # too small: dropped and counted
    assert tracker.dropped["too_small"] == 1
    assert [p for p, _ in tracker.update(2.0, [_box(14)])] == [3]  # unseen for longer than the gap: a new person
    # frames 1 s apart (a slow or busy analysis): a face that moved 1.3 face sizes is still the same person
    assert [p for p, _ in tracker.update(3.0, [_box(144)])] == [3]
    assert [p for p, _ in tracker.update(3.1, [_box(300)])] == [4]  # but not 1.5 sizes in a tenth of a second
    # an analysis so slow that frames come 2.5 s apart still follows the person it saw in the last frame
    slow = OnlineTracker(max_gap=2.0)
    assert [[p for p, _ in slow.update(t, [_box(10 + 20 * k)])] for k, t in enumerate((0.0, 2.5, 5.0))] \
        == [[1], [1], [1]]


class _Boxes:
    """A face detector that reports the faces it is told, and can be slow."""

    name = "stub"

    def __init__(self, faces, delay: float = 0.0) -> None:
        self.faces, self.delay = faces, delay

    def detect(self, images):
        time.sleep(self.delay)
        return [list(self.faces(image)) for image in images]


class _ByBrightness:
    """A detector whose fake probability is the crop's mean brightness / 255."""

    def __init__(self) -> None:
        self.spec = DetectorSpec(name="stub", architecture="stub", crop=CropSpec(size=32), threshold=0.5,
                                 uncertain_band=(0.4, 0.6))
        self.calls = 0

    def predict_tracks(self, tracks, *, batch_size: int = 8):
        self.calls += 1
        return [np.array([crop.mean() / 255.0 for crop in track], np.float32) for track in tracks]


def test_monitor_judges_only_the_window_and_scores_each_face_once() -> None:
    detector = _ByBrightness()
    monitor = RollingMonitor(detector, _Boxes(lambda image: [_box(20)] if image.mean() > 0 else []), window=2.0,
                             target_fps=2)
    for step in range(8):  # a bright (fake-looking) face for 4 s ...
        monitor.add_frame(step * 0.5, np.full((200, 200, 3), 240, np.uint8))
    fake = monitor.verdict(3.5)
    assert fake.verdict == "FAKE" and fake.people[0].faces == 4 and fake.analysed_fps == pytest.approx(2.0)
    for step in range(8, 12):  # ... then an empty picture for 2 s: the window forgets the face
        monitor.add_frame(step * 0.5, np.zeros((200, 200, 3), np.uint8))
    gone = monitor.verdict(5.5)
    assert gone.verdict == "NO_FACE" and gone.people == [] and gone.frames_analysed == 4
    calls = detector.calls
    monitor.verdict(5.5)
    assert detector.calls == calls  # nothing new to score


def test_real_time_pacing_keeps_up_by_skipping_frames(clips: dict[str, Path]) -> None:
    """A face search that takes 0.3 s cannot do 10 frames/s: the stream still plays in real time, and the
    verdicts say how many samples were skipped to keep up."""
    monitor = RollingMonitor(_ByBrightness(), _Boxes(lambda image: [_box(90)], delay=0.3), window=2.0,
                             target_fps=10)
    started = time.monotonic()
    verdicts = list(rolling_verdicts(open_stream(clips["face"]), monitor, every=1.0, fps=10, realtime=True))
    elapsed = time.monotonic() - started
    assert 3.8 <= elapsed < 6.0  # a 4 s clip, played at its own speed, and not slowed down by the analysis
    assert [round(v.time) for v in verdicts] == [1, 2, 3, 4]
    assert verdicts[-1].frames_behind >= 10 and verdicts[-1].analysed_fps < 4
    assert all(v.lag < 1.0 for v in verdicts)  # never more than about one analysis behind


def test_closing_the_iterator_stops_the_reader(clips: dict[str, Path]) -> None:
    monitor = RollingMonitor(_ByBrightness(), _Boxes(lambda image: []), window=2.0, target_fps=2)
    verdicts = rolling_verdicts(open_stream(clips["face"]), monitor, every=0.5, fps=2, realtime=True)
    assert next(verdicts).verdict == "NO_FACE"
    verdicts.close()
    assert not [t for t in threading.enumerate() if t.name == "facetrust-watch-reader"]
