"""Every way a file can be unusable maps to one facetrust error that names the file."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from facetrust.errors import (
    CorruptMediaError,
    EmptyMediaError,
    InputError,
    MediaNotFoundError,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from facetrust.media import open_media, probe
from facetrust.media.testing import write_audio, write_image, write_video

from .helpers import crafted_bmp, crafted_png, frame_number, index_frame, marker_image, mp4_boxes


def _raises(error: type[InputError], path: Path, **limits: float) -> InputError:
    """open_media(path) raises exactly ``error`` (not a subclass of another kind) naming the file."""
    with pytest.raises(InputError) as excinfo:
        open_media(path, **limits)
    assert type(excinfo.value) is error, f"{type(excinfo.value).__name__}: {excinfo.value}"
    assert str(path) in str(excinfo.value)
    return excinfo.value


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _raises(MediaNotFoundError, tmp_path / "nope.mp4")
    _raises(MediaNotFoundError, tmp_path)
    with pytest.raises(MediaNotFoundError):
        probe(tmp_path / "nope.png")


def test_zero_byte_file(tmp_path: Path) -> None:
    for name in ("empty.mp4", "empty.jpg"):
        (tmp_path / name).write_bytes(b"")
        _raises(EmptyMediaError, tmp_path / name)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.mp4", b"this is not a video\n" * 20),
        ("notes.nfo", b"plain text that FFmpeg would show as ANSI art\n" * 5),  # FFmpeg's tty demuxer
        ("noise.mp4", bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))),
        ("script.jpg", b"#!/bin/sh\necho hello\n"),
        ("greeting.mp4", b"Good morning"),  # starts like an MPEG-TS sync byte
    ],
)
def test_not_media_is_unsupported(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _raises(UnsupportedMediaError, path)
    with pytest.raises(UnsupportedMediaError):
        probe(path)


def test_other_image_formats_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "picture.ppm"
    Image.fromarray(marker_image()).save(path)
    _raises(UnsupportedMediaError, path)


def test_audio_only_file_is_unsupported(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "voice memo.m4a", seconds=0.5)
    error = _raises(UnsupportedMediaError, path)
    assert "audio" in str(error)


def test_video_without_frames_is_empty(tmp_path: Path) -> None:
    for suffix, codec in ((".avi", "mpeg4"), (".mp4", "libx264")):
        path = tmp_path / f"no frames{suffix}"
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()
        _raises(EmptyMediaError, path)


def test_header_truncated_mp4_is_corrupt(tmp_path: Path, clip: Path) -> None:
    data = clip.read_bytes()
    moov_offset, moov_size = mp4_boxes(data)[b"moov"]
    assert moov_offset < 100, "write_video should put the index first (faststart)"
    cuts = {
        "inside ftyp": 8,
        "inside moov": moov_offset + moov_size // 2,
        "right after moov": moov_offset + moov_size + 16,
    }
    for label, cut in cuts.items():
        path = tmp_path / f"cut {label}.mp4"
        path.write_bytes(data[:cut])
        _raises(CorruptMediaError, path)


def test_tail_truncated_mp4_decodes_what_it_can(
    tmp_path: Path, noisy_clip_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cut in half.mp4"
    path.write_bytes(noisy_clip_bytes[: len(noisy_clip_bytes) // 2])
    with caplog.at_level(logging.WARNING, logger="facetrust.media"), open_media(path) as reader:
        assert reader.info.frame_count == 100  # the index is intact
        times = [0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 3.5, 3.9]
        frames = reader.read(times)
        assert 3 <= len(frames) < len(times)
        assert reader.decode_failures == len(times) - len(frames)
        for frame in frames:
            assert frame_number(frame.image) == round(frame.timestamp * 25)
        assert any(
            "could not decode" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
        )
        with pytest.raises(CorruptMediaError, match="cut in half.mp4"):
            reader.read([3.2, 3.6])  # only the missing part


def test_damaged_images_are_corrupt(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for suffix in (".png", ".jpg", ".webp"):
        whole = write_image(tmp_path / f"whole{suffix}", noise).read_bytes()
        path = tmp_path / f"half{suffix}"
        path.write_bytes(whole[: len(whole) // 2])
        _raises(CorruptMediaError, path)
    bad_header = tmp_path / "bad header.png"
    bad_header.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _raises(CorruptMediaError, bad_header)


@pytest.mark.parametrize("craft", [crafted_png, crafted_bmp], ids=["png", "bmp"])
def test_huge_header_is_refused_before_decoding(tmp_path: Path, craft) -> None:
    path = tmp_path / "bomb.img"
    path.write_bytes(craft(40000, 40000))
    assert path.stat().st_size < 120
    error = _raises(MediaTooLargeError, path)
    assert "40000x40000" in str(error)
    assert error.__cause__ is None  # our own check, not Pillow's DecompressionBombError
    info = probe(path)  # probing only reads the header: no limit, no allocation
    assert (info.width, info.height) == (40000, 40000)


def test_video_limits(clip: Path) -> None:
    error = _raises(MediaTooLargeError, clip, max_pixels=64 * 48 - 1)
    assert "64x48" in str(error)
    error = _raises(MediaTooLargeError, clip, max_duration=1.5)
    assert "duration" in str(error)
    with open_media(clip, max_pixels=64 * 48, max_duration=2.0) as reader:
        assert reader.info.frame_count == 50


def test_only_facetrust_errors_escape(tmp_path: Path, clip: Path) -> None:
    """Random damage to real files never lets a raw PyAV/Pillow exception out."""
    rng = np.random.default_rng(3)
    originals = {
        ".mp4": clip.read_bytes(),
        ".png": write_image(tmp_path / "ok.png", index_frame(3)).read_bytes(),
        ".jpg": write_image(tmp_path / "ok.jpg", index_frame(3)).read_bytes(),
        ".webm": write_video(tmp_path / "ok.webm", [index_frame(i) for i in range(5)]).read_bytes(),
    }
    for suffix, data in originals.items():
        for trial in range(6):
            damaged = bytearray(data[: int(len(data) * rng.uniform(0.05, 1.0))])
            for position in rng.integers(0, len(damaged), 20):
                damaged[position] = int(rng.integers(0, 256))
            path = tmp_path / f"damaged {trial}{suffix}"
            path.write_bytes(bytes(damaged))
            try:
                with open_media(path) as reader:
                    reader.read([0.0, 0.1, 0.15])
            except InputError as exc:
                assert str(path) in str(exc)


def test_a_fifo_is_refused_as_not_a_file_not_called_empty(tmp_path) -> None:
    # issue 14, defect 9: a FIFO given directly was called "empty (0 bytes)"
    import os

    import pytest

    from facetrust.errors import UnsupportedMediaError
    from facetrust.media import open_media

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UnsupportedMediaError, match="named pipe"):
        open_media(fifo)
