"""Frames nobody will look at are not decoded (``skip_frame = NONREF`` while decoding toward a target), and the
frames returned are exactly those of a full decode."""

from __future__ import annotations

import numpy as np
import pytest

from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.media import readers as readers_module
from facetrust.media.testing import write_video
from media.helpers import frame_number, index_frame


def _read(path, times, *, skipping: bool, monkeypatch) -> tuple[list, int]:
    with monkeypatch.context() as patch:
        if not skipping:
            patch.setattr(readers_module.VideoReader, "_skippable_before", lambda self, t: -np.inf)
        with open_media(path) as reader:
            frames = reader.read(times)
            return frames, reader.frames_decoded


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_skipping_unreferenced_frames_returns_the_same_frames(tmp_path, monkeypatch, codec) -> None:
    # long GOP with B-frames (x264's defaults): most frames between two targets are unreferenced
    path = write_video(tmp_path / "long_gop.mp4", [index_frame(i) for i in range(150)], fps=25, codec=codec,
                       gop=150, options={"bf": "3"} if codec == "mpeg4" else None)
    with open_media(path) as reader:
        times = sample_times(reader.info, mode="uniform", n=12)
    full, decoded_full = _read(path, times, skipping=False, monkeypatch=monkeypatch)
    fast, decoded_fast = _read(path, times, skipping=True, monkeypatch=monkeypatch)
    assert [f.index for f in fast] == [f.index for f in full]
    assert [f.timestamp for f in fast] == [f.timestamp for f in full]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(fast, full, strict=True))
    assert [frame_number(f.image) for f in fast] == [f.index for f in fast]  # and they are the right frames
    assert decoded_fast < decoded_full  # frames were actually skipped


def test_the_last_frame_still_answers_targets_past_the_end(tmp_path, monkeypatch) -> None:
    path = write_video(tmp_path / "clip.mp4", [index_frame(i) for i in range(60)], fps=25, gop=60)
    times = [0.5, 1.0, 5.0]  # 5 s is past the end (2.4 s): the last frame answers it
    full, _ = _read(path, times, skipping=False, monkeypatch=monkeypatch)
    fast, _ = _read(path, times, skipping=True, monkeypatch=monkeypatch)
    assert [frame_number(f.image) for f in fast] == [frame_number(f.image) for f in full] == [13, 25, 59]


def test_a_closed_reader_is_freed_at_once_without_the_cycle_collector(tmp_path) -> None:
    # the frame generator holds the reader's skip callback: left open, that cycle kept every reader of a
    # folder run (and its decoded frames) alive until the cycle collector ran (+300 MB over 6 1080p clips)
    import gc
    import weakref

    path = write_video(tmp_path / "clip.mp4", [index_frame(i) for i in range(60)], fps=25, gop=60)
    gc.disable()
    try:
        with open_media(path) as reader:
            reader.read([0.5, 1.0])
        ref = weakref.ref(reader)
        del reader
        assert ref() is None
    finally:
        gc.enable()


def test_the_decoders_threading_follows_the_cores_and_never_changes_a_frame(tmp_path, monkeypatch) -> None:
    assert readers_module.decoder_threading(2) == "SLICE" and readers_module.decoder_threading(1) == "SLICE"
    assert readers_module.decoder_threading(8) == "AUTO"
    path = write_video(tmp_path / "clip.mp4", [index_frame(i) for i in range(80)], fps=25, gop=80,
                       options={"slices": "2"})  # two slices: slice threading has something to split
    with open_media(path) as reader:
        times = sample_times(reader.info, mode="uniform", n=10)
    decoded = {}
    for threading in ("SLICE", "AUTO"):
        monkeypatch.setattr(readers_module, "decoder_threading", lambda cores=None, mode=threading: mode)
        with open_media(path) as reader:
            decoded[threading] = reader.read(times)
    assert [frame_number(f.image) for f in decoded["SLICE"]] == [f.index for f in decoded["SLICE"]]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(decoded["SLICE"], decoded["AUTO"], strict=True))
