"""Images: every format, EXIF orientation, pixel modes, arrays, tiny and oversized pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facetrust.errors import EmptyMediaError, InputError, MediaTooLargeError, UnsupportedMediaError
from facetrust.media import IMAGE_EXTENSIONS, MediaReader, open_media, probe
from facetrust.media.testing import write_image

from .helpers import assert_close, marker_image

LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


@pytest.mark.parametrize("suffix", sorted(IMAGE_EXTENSIONS))
def test_every_image_format_round_trips(tmp_path: Path, suffix: str) -> None:
    rgb = marker_image()
    path = write_image(tmp_path / f"picture{suffix}", rgb)
    with open_media(path) as reader:
        assert isinstance(reader, MediaReader)
        info = reader.info
        frames = reader.read([0.0])
    assert (info.kind, info.width, info.height, info.frame_count, info.path) == (
        "image",
        64,
        48,
        1,
        str(path),
    )
    assert info.fps is None and info.duration is None and info.rotation == 0
    assert len(frames) == 1 and frames[0].index == 0 and frames[0].timestamp == 0.0
    if suffix in LOSSLESS:
        np.testing.assert_array_equal(frames[0].image, rgb)
    else:
        assert_close(frames[0].image, rgb, tolerance=8)
    assert probe(path) == info


def test_type_comes_from_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "really a png.jpg"
    Image.fromarray(marker_image()).save(path, format="PNG")
    with open_media(path) as reader:
        assert reader.info.codec == "png"
        np.testing.assert_array_equal(reader.read([0])[0].image, marker_image())


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    upright = marker_image(64, 48)
    path = write_image(tmp_path / f"camera {orientation}.jpg", upright, orientation=orientation)
    with Image.open(path) as stored:
        assert stored.size == ((48, 64) if orientation >= 5 else (64, 48))  # stored sideways for 5-8
    with open_media(path) as reader:
        assert (reader.info.width, reader.info.height) == (64, 48)
        assert reader.info.rotation == {2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}[orientation]
        assert_close(reader.read([0])[0].image, upright, tolerance=8)
    assert (probe(path).width, probe(path).height) == (64, 48)


def _gradient() -> np.ndarray:
    return np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Image.fromarray(_gradient(), "L"), lambda: np.dstack([_gradient()] * 3)),
        (
            lambda: Image.fromarray(marker_image()).convert("P", palette=Image.Palette.ADAPTIVE),
            lambda: marker_image(),
        ),
        (lambda: Image.fromarray(marker_image()).convert("RGBA"), lambda: marker_image()),
        (lambda: Image.fromarray(_gradient(), "L").convert("LA"), lambda: np.dstack([_gradient()] * 3)),
        (lambda: Image.fromarray(_gradient().astype(np.uint16) * 257), lambda: np.dstack([_gradient()] * 3)),
        (lambda: Image.fromarray(_gradient() > 127), lambda: np.dstack([(_gradient() > 127) * 255] * 3)),
    ],
    ids=["grey", "palette", "rgba", "grey-alpha", "grey-16bit", "1bit"],
)
def test_pixel_modes_become_rgb_uint8(tmp_path: Path, make, expected) -> None:
    image = make()
    path = tmp_path / f"mode {image.mode}.png"
    image.save(path)
    with open_media(path) as reader:
        out = reader.read([0])[0].image
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert_close(out, expected().astype(np.uint8), tolerance=1.0)


def test_palette_with_transparency_and_cmyk(tmp_path: Path) -> None:
    palette = Image.fromarray(marker_image()).convert("P")
    palette.info["transparency"] = 0
    palette.save(tmp_path / "transparent.png", transparency=0)
    Image.fromarray(marker_image()).convert("CMYK").save(tmp_path / "print.jpg")
    with open_media(tmp_path / "transparent.png") as reader:
        assert reader.read([0])[0].image.shape == (48, 64, 3)
    with open_media(tmp_path / "print.jpg") as reader:
        assert_close(reader.read([0])[0].image, marker_image(), tolerance=12)


def test_one_pixel_image(tmp_path: Path) -> None:
    path = write_image(tmp_path / "dot.png", np.array([[[10, 20, 30]]], np.uint8))
    with open_media(path) as reader:
        assert (reader.info.width, reader.info.height) == (1, 1)
        np.testing.assert_array_equal(reader.read([0])[0].image, [[[10, 20, 30]]])


def test_image_read_ignores_timestamps_and_returns_copies(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png", marker_image())
    with open_media(path) as reader:
        first = reader.read([0.0, 1.0, 99.0])
        assert len(first) == 1 and first[0].timestamp == 0.0
        first[0].image[:] = 0
        np.testing.assert_array_equal(reader.read([])[0].image, marker_image())
        assert reader.frames_decoded == 1 and reader.decode_failures == 0


def test_array_inputs() -> None:
    rgb = marker_image()
    with open_media(rgb) as reader:
        assert reader.info.path is None and reader.info.kind == "image"
        assert (reader.info.width, reader.info.height) == (64, 48)
        np.testing.assert_array_equal(reader.read([0])[0].image, rgb)
    grey = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    with open_media(grey) as reader:
        out = reader.read([0])[0].image
        assert out.shape == (48, 64, 3)
        np.testing.assert_array_equal(out[..., 2], grey)


@pytest.mark.parametrize(
    ("array", "error", "words"),
    [
        (np.zeros((48, 64, 3), np.float32), UnsupportedMediaError, "uint8"),
        (np.zeros((48, 64, 4), np.uint8), UnsupportedMediaError, "alpha"),
        (np.zeros((3, 48, 64), np.uint8), UnsupportedMediaError, "(H, W, 3)"),
        (np.zeros((2, 48, 64, 3), np.uint8), UnsupportedMediaError, "(H, W, 3)"),
        (np.zeros((0, 0, 3), np.uint8), EmptyMediaError, "no pixels"),
    ],
)
def test_bad_arrays_are_input_errors(array: np.ndarray, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=None) as excinfo:
        open_media(array)
    assert isinstance(excinfo.value, InputError)
    assert words in str(excinfo.value)


def test_pixel_limit_applies_to_files_and_arrays(tmp_path: Path) -> None:
    path = write_image(tmp_path / "big enough.png", marker_image())
    with pytest.raises(MediaTooLargeError, match="big enough.png"):
        open_media(path, max_pixels=1000)
    with pytest.raises(MediaTooLargeError):
        open_media(marker_image(), max_pixels=1000)
    with open_media(path, max_pixels=64 * 48):
        pass


def test_transparent_pixels_are_shown_over_white_not_scored_as_hidden(tmp_path) -> None:
    # issue 14, defect 8: an RGBA image whose face is fully transparent was scored on the hidden pixels
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = (200, 30, 30)  # hidden red under full transparency on the left half
    rgba[:, 30:, 3] = 255  # opaque red on the right half
    rgba[:, 15:30, 3] = 128  # half-transparent strip
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with open_media(tmp_path / "a.png") as reader:
        image = reader.read([0.0])[0].image
    assert (image[:, :15] == 255).all()  # transparent: the white page
    assert (image[:, 30:] == (200, 30, 30)).all()  # opaque: as drawn
    assert 100 < image[0, 20, 1] < 160  # half-transparent: a blend of both


def test_a_png_bomb_is_refused_without_allocating_its_pixels(tmp_path) -> None:
    # found by the bad-input corpus: reading the EXIF of a 100k x 100k PNG made Pillow allocate 30 GB first
    import resource
    import struct
    import zlib

    from facetrust.media import probe

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MediaTooLargeError):
        open_media(bomb)
    assert probe(bomb).width == 100_000  # the header alone
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: nothing near 30 GB
