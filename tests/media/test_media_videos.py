"""Videos: every container, rotation, variable frame rate, read() semantics, odd paths."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from facetrust.media import VIDEO_EXTENSIONS, open_media, probe, rotate_upright
from facetrust.media.testing import write_video

from .helpers import assert_close, frame_number, index_frame, marker_image

CONTAINERS = [
    (".mp4", "libx264"),
    (".mp4", "mpeg4"),
    (".m4v", "libx264"),
    (".mov", "libx264"),
    (".avi", "mpeg4"),
    (".mkv", "libx264"),
    (".webm", "libvpx"),
    (".webm", "libvpx-vp9"),
    (".mpg", "mpeg1video"),
]


@pytest.mark.parametrize(("suffix", "codec"), CONTAINERS, ids=[f"{s[1:]}-{c}" for s, c in CONTAINERS])
def test_every_container_round_trips(tmp_path: Path, suffix: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    assert suffix in VIDEO_EXTENSIONS
    path = write_video(tmp_path / f"clip{suffix}", [index_frame(i) for i in range(20)], fps=25, codec=codec)
    info = probe(path)
    assert (info.kind, info.width, info.height, info.rotation) == ("video", 64, 48, 0)
    assert info.fps == pytest.approx(25)
    if suffix != ".mpg":  # MPEG-PS stores no duration; FFmpeg guesses it from the bit rate
        assert info.duration == pytest.approx(0.8, abs=0.1)
        assert info.frame_count == pytest.approx(20, abs=2)
    assert info.codec and info.container and info.path == str(path)
    with open_media(path) as reader:
        assert reader.info == info
        frames = reader.read([k / 25 for k in range(20)])
    assert [frame_number(f.image) for f in frames] == list(range(20))
    assert [f.index for f in frames] == list(range(20))
    assert [f.timestamp for f in frames] == pytest.approx([k / 25 for k in range(20)], abs=1e-3)
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (48, 64, 3)
        assert frame.image.flags.c_contiguous


def test_video_with_audio_track(tmp_path: Path) -> None:
    for suffix in (".mp4", ".mkv", ".webm"):
        path = write_video(tmp_path / f"talk{suffix}", [index_frame(i) for i in range(10)], audio=True)
        with open_media(path) as reader:
            assert [frame_number(f.image) for f in reader.read([0, 0.2, 0.36])] == [0, 5, 9]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_gives_upright_frames(tmp_path: Path, rotation: int) -> None:
    upright = marker_image(64, 48)
    path = write_video(tmp_path / f"phone {rotation}.mov", [upright] * 3, rotation=rotation)
    with av.open(str(path)) as container:  # stored sideways (or upside down), as a phone does
        stored = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert stored.shape[:2] == ((64, 48) if rotation in (90, 270) else (48, 64))
    info = probe(path)
    assert (info.rotation, info.width, info.height) == (rotation, 64, 48)
    with open_media(path) as reader:
        assert reader.info == info
        for frame in reader.read([0, 0.04, 0.08]):
            assert_close(frame.image, upright, tolerance=8)


def test_rotate_upright_helper() -> None:
    image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)  # [[0 1 2], [3 4 5]]
    assert rotate_upright(image, 0)[..., 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert rotate_upright(image, 90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]  # clockwise
    assert rotate_upright(image, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert rotate_upright(image, 270)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert rotate_upright(image, -90).tolist() == rotate_upright(image, 270).tolist()
    assert rotate_upright(image, 90).flags.c_contiguous
    with pytest.raises(ValueError):
        rotate_upright(image, 45)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate_uses_frame_timestamps(tmp_path: Path, suffix: str) -> None:
    pts_ms = [0, 40, 80, 200, 210, 500, 1000]
    path = write_video(tmp_path / f"vfr{suffix}", [index_frame(i) for i in range(7)], pts=pts_ms)
    with open_media(path) as reader:
        frames = reader.read([t / 1000 for t in pts_ms])
        assert [f.timestamp for f in frames] == pytest.approx([t / 1000 for t in pts_ms], abs=1e-3)
        assert [frame_number(f.image) for f in frames] == list(range(7))
        between = reader.read([0.1, 0.205, 0.6, 30.0])  # first frame at or after each time; then the last
        assert [f.timestamp for f in between] == pytest.approx([0.2, 0.21, 1.0], abs=1e-3)
        indices = [f.index for f in frames]
        assert indices == sorted(set(indices))  # unique and increasing even where round(t * fps) collides


def test_read_semantics(clip: Path) -> None:
    with open_media(clip) as reader:
        frames = reader.read([0.5, 0.1, 0.1, -3.0, 0.11])  # unsorted, duplicate, negative, same frame
        assert [frame_number(f.image) for f in frames] == [0, 3, 13]
        assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.12, 0.52])
        assert [f.index for f in frames] == [0, 3, 13]
        assert reader.read([0.12 + 1e-7])[0].timestamp == pytest.approx(0.12)  # float noise: same frame
        assert reader.read([0.121])[0].timestamp == pytest.approx(0.16)  # otherwise the next frame
        last = reader.read([1.96, 50.0, 1e6])
        assert len(last) == 1 and frame_number(last[0].image) == 49  # beyond the end: the last frame
        again = reader.read([0.04, 1.0])  # a later call may go back in time
        assert [frame_number(f.image) for f in again] == [1, 25]
        assert reader.read([]) == []
        assert reader.decode_failures == 0
        with pytest.raises(ValueError, match="finite"):
            reader.read([float("nan")])
    with pytest.raises(ValueError, match="closed"):
        reader.read([0.0])


def test_one_frame_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "single.mp4", [index_frame(7)])
    with open_media(path) as reader:
        assert reader.info.frame_count == 1
        frames = reader.read([0.0, 0.5, 10.0])
        assert len(frames) == 1 and frame_number(frames[0].image) == 7


def test_paths_with_spaces_unicode_and_colons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dossier été"
    path = write_video(folder / "clip ü 1.mp4", [index_frame(i) for i in range(5)])
    with open_media(str(path)) as reader:
        assert reader.info.path == str(path)
        assert len(reader.read([0, 0.1])) == 2
    assert probe(path).frame_count == 5
    monkeypatch.chdir(folder)  # FFmpeg must not read "odd:" as a protocol nor "%d" as a pattern
    relative = write_video("odd:name %d.mkv", [index_frame(i) for i in range(3)])
    with open_media(relative) as reader:
        assert reader.info.path == "odd:name %d.mkv"
        assert len(reader.read([0, 0.04, 0.08])) == 3


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    path = write_video(tmp_path / "odd.mp4", [np.zeros((47, 63, 3), np.uint8)] * 2)
    assert (probe(path).width, probe(path).height) == (64, 48)


def test_write_video_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", [])
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", [np.zeros((48, 64, 3), np.float32)])
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", [index_frame(0), np.zeros((32, 32, 3), np.uint8)])
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.avi", [index_frame(0)], rotation=90)
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", [index_frame(0), index_frame(1)], pts=[10, 5])


@pytest.mark.parametrize(("default", "width"), [(1, 320), (None, 320), (0, 64)])
def test_the_stream_a_player_shows_is_analysed_and_the_others_are_named(
    tmp_path: Path, default: int | None, width: int, caplog: pytest.LogCaptureFixture
) -> None:
    # issue 14, defect 5: only the first video stream was analysed, silently
    path = tmp_path / "two.mkv"
    container = av.open(str(path), "w", options={"default_mode": "passthrough"})
    streams = []
    for index, (w, h) in enumerate(((64, 64), (320, 240))):
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.disposition = av.stream.Disposition.default if index == default else av.stream.Disposition(0)
        streams.append(stream)
    for k in range(5):
        for stream in streams:
            frame = av.VideoFrame.from_ndarray(np.full((stream.height, stream.width, 3), 90, np.uint8),
                                               format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
    for stream in streams:
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()
    with caplog.at_level("WARNING"), open_media(path) as reader:
        assert reader.info.width == width  # marked default first, else the largest picture
        assert reader.read([0.0])[0].image.shape[1] == width
    assert "2 video streams" in caplog.text
