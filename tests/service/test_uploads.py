"""Type sniffing from the bytes, and server-side paths that must stay under the allowed root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import face_frames
from facetrust.errors import EmptyMediaError, MediaNotFoundError, UnsupportedMediaError
from facetrust.media.testing import write_image, write_video
from facetrust.service.errors import PathNotAllowed, ValidationError
from facetrust.service.uploads import (
    check_sniffed,
    display_name,
    resolve_allowed_path,
    sniff_media_kind,
)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".bmp", ".tiff"])
def test_every_image_format_facetrust_reads_is_sniffed_as_an_image(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"picture{suffix}"
    write_image(path, np.full((32, 32, 3), 120, np.uint8))
    assert sniff_media_kind(path.read_bytes()[:1024]) == "image"


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpg"])
def test_every_video_container_is_sniffed_as_a_video(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    write_video(path, face_frames(3))
    assert sniff_media_kind(path.read_bytes()[:1024]) == "video"


@pytest.mark.parametrize("head", [
    b"this is not a video\n" * 20,
    b"%PDF-1.7\n" + bytes(500),
    b"PK\x03\x04" + bytes(500),  # a zip, named .mp4 or not
    bytes(1024),
    b"<html><body>",
    b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF, but audio
])
def test_other_bytes_are_refused_whatever_the_name(head: bytes) -> None:
    assert sniff_media_kind(head) is None
    with pytest.raises(UnsupportedMediaError, match="clip.mp4: its bytes are not an image or video"):
        check_sniffed(head, "clip.mp4")


def test_an_empty_upload_is_an_empty_media_error() -> None:
    with pytest.raises(EmptyMediaError):
        check_sniffed(b"", "empty.jpg")


@pytest.mark.parametrize(("given", "shown"), [
    ("clip.mp4", "clip.mp4"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
    ("a\nb\x00.mp4", "ab.mp4"),
    ("", "upload"),
    (None, "upload"),
    ("x" * 400, "x" * 255),
])
def test_the_client_file_name_is_only_a_printable_label(given: str | None, shown: str) -> None:
    assert display_name(given) == shown


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An allowed folder with a video, a sub-folder, and a secret file next to it (outside)."""
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    write_video(allowed / "sub" / "clip.mp4", face_frames(3))
    (tmp_path / "secret.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    os.symlink(tmp_path / "secret.mp4", allowed / "link out.mp4")
    os.symlink(allowed / "sub" / "clip.mp4", allowed / "link in.mp4")
    os.symlink(tmp_path, allowed / "dir out")
    return allowed


def test_paths_inside_the_root_resolve_to_their_real_file(root: Path) -> None:
    real = (root / "sub" / "clip.mp4").resolve()
    assert resolve_allowed_path(root, "sub/clip.mp4") == real
    assert resolve_allowed_path(root, "./sub/../sub/clip.mp4") == real
    assert resolve_allowed_path(root, str(root / "sub" / "clip.mp4")) == real  # absolute, inside
    assert resolve_allowed_path(root, "link in.mp4") == real  # a symlink that stays inside


@pytest.mark.parametrize("attempt", [
    "../secret.mp4",
    "sub/../../secret.mp4",
    "sub/../../../../../../etc/passwd",
    "/etc/passwd",
    "//etc/passwd",
    "link out.mp4",  # a symlink to a file outside
    "dir out/secret.mp4",  # through a symlinked folder
    "dir out/allowed/../secret.mp4",
])
def test_paths_that_lead_outside_are_refused(root: Path, attempt: str) -> None:
    with pytest.raises(PathNotAllowed):
        resolve_allowed_path(root, attempt)


@pytest.mark.parametrize("attempt", ["..%2Fsecret.mp4", "%2e%2e/secret.mp4", "..%252Fsecret.mp4"])
def test_url_encoding_is_not_decoded_into_a_traversal(root: Path, attempt: str) -> None:
    # a JSON string is taken literally: "%2e%2e" is a (missing) file name inside the root, never ".."
    with pytest.raises(MediaNotFoundError, match="no such file in the allowed folder"):
        resolve_allowed_path(root, attempt)


def test_missing_odd_and_disabled_paths_are_named_errors(root: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError):
        resolve_allowed_path(root, "sub/missing.mp4")
    with pytest.raises(MediaNotFoundError, match="directory"):
        resolve_allowed_path(root, "sub")
    os.mkfifo(root / "pipe.mp4")
    with pytest.raises(UnsupportedMediaError, match="pipe.mp4: is a named pipe"):
        resolve_allowed_path(root, "pipe.mp4")
    (root / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyMediaError):
        resolve_allowed_path(root, "empty.mp4")
    for bad in ("", "a\x00b", "x" * 5000):
        with pytest.raises(ValidationError):
            resolve_allowed_path(root, bad)
    with pytest.raises(PathNotAllowed, match="turned off"):
        resolve_allowed_path(None, "sub/clip.mp4")


def test_error_messages_name_the_path_as_given_not_the_server_path(root: Path) -> None:
    (root / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyMediaError) as info:
        resolve_allowed_path(root, "empty.mp4")
    assert str(root) not in str(info.value) and "empty.mp4" in str(info.value)
