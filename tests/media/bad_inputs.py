"""A corpus of bad and awkward inputs, built at test time (issue 14): each case is a file (or a path) and the
outcome expected from ``facetrust.analyze``: a named error type, or a verdict class.

``build_corpus(root)`` returns ``[(name, path, expected)]``; ``expected`` is an error class name
(``"EmptyMediaError"``), ``"verdict"`` (REAL / FAKE / UNCERTAIN: the input was analysed) or ``"NO_FACE"``.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from facetrust.media.testing import write_video

VERDICT = "verdict"


def _face() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[0:300, 100:360])


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels (its data are tiny)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def _frames(count: int = 8, size: tuple[int, int] = (320, 240), face: bool = True) -> list[np.ndarray]:
    import cv2

    picture = cv2.resize(_face(), (150, 173), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        if face:
            frame[30 : 30 + 173, 40 + 4 * i : 40 + 4 * i + 150] = picture
        frames.append(frame)
    return frames


def _tiff_with_size(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF with its ImageWidth / ImageLength tags rewritten (its strips are not)."""
    out = bytearray(data)
    offset = struct.unpack_from("<I", out, 4)[0]
    for i in range(struct.unpack_from("<H", out, offset)[0]):
        entry = offset + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", out, entry)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<HHII", out, entry, tag, 4, 1, value)  # LONG
    return bytes(out)


def _huge_mjpeg(path: Path) -> Path:
    """One black 9000 × 9000 MJPEG frame in an AVI: 81 megapixels declared in 1.3 MB."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = 9000, 9000, "yuvj420p"
        frame = av.VideoFrame(9000, 9000, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def _two_streams(path: Path, frames: list[np.ndarray]) -> Path:
    """A Matroska file whose first video stream is small and blank, the second the face (no default)."""
    import av

    with av.open(str(path), "w", options={"default_mode": "passthrough"}) as container:
        small = container.add_stream("libx264", rate=10)
        small.width, small.height, small.pix_fmt = 64, 64, "yuv420p"
        big = container.add_stream("libx264", rate=10)
        big.width, big.height, big.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for stream in (small, big):
            stream.disposition = av.stream.Disposition(0)
        for k, picture in enumerate(frames):
            for stream, image in ((small, np.zeros((64, 64, 3), np.uint8)), (big, picture)):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = k
                for packet in stream.encode(frame):
                    container.mux(packet)
        for stream in (small, big):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def build_corpus(root: Path) -> list[tuple[str, Path, str]]:
    """Write the corpus under ``root``; see the module doc."""
    root.mkdir(parents=True, exist_ok=True)
    face = _face()
    cases: list[tuple[str, Path, str]] = []

    def add(name: str, filename: str, data: bytes | None, expected: str) -> Path:
        path = root / filename
        if data is not None:
            path.write_bytes(data)
        cases.append((name, path, expected))
        return path

    def image_bytes(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **kwargs)
        return buffer.getvalue()

    rgb = Image.fromarray(face)
    jpeg = image_bytes(rgb, "JPEG", quality=90)
    # --- not media at all
    add("empty file", "empty.mp4", b"", "EmptyMediaError")
    add("text named .mp4", "notes.mp4", b"this is not a video\n" * 50, "UnsupportedMediaError")
    add("html named .jpg", "page.jpg", b"<!doctype html><html><body>hi</body></html>" * 20, "UnsupportedMediaError")
    add("zip named .jpg", "archive.jpg", b"PK\x03\x04" + bytes(300), "UnsupportedMediaError")
    add("pdf", "doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" * 10, "UnsupportedMediaError")
    add("random bytes", "noise.bin", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "UnsupportedMediaError")
    add("missing file", "gone.mp4", None, "MediaNotFoundError")
    folder = root / "a folder"
    folder.mkdir(exist_ok=True)
    cases.append(("a folder", folder, "MediaNotFoundError"))
    fifo = root / "pipe.mp4"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases.append(("a FIFO", fifo, "UnsupportedMediaError"))
    loop_a, loop_b = root / "loop_a.mp4", root / "loop_b.mp4"
    if not loop_a.is_symlink():
        loop_a.symlink_to(loop_b)
        loop_b.symlink_to(loop_a)
    cases.append(("a symlink loop", loop_a, "MediaNotFoundError"))
    # --- broken or hostile images
    add("jpeg cut to its header", "cut_header.jpg", jpeg[:300], "CorruptMediaError")
    add("png cut in half", "cut.png", image_bytes(rgb, "PNG")[:5000], "CorruptMediaError")
    add("png bomb (100k x 100k)", "bomb.png", _png_bomb(100_000, 100_000), "MediaTooLargeError")
    add("png of zero width", "zero.png", _png_bomb(0, 10), "CorruptMediaError")
    gif = Image.new("P", (10, 10))
    gif_bytes = bytearray(image_bytes(gif, "GIF"))
    gif_bytes[6:10] = struct.pack("<HH", 65535, 65535)  # the logical screen: 4.3 gigapixels
    add("gif bomb (65535 x 65535)", "bomb.gif", bytes(gif_bytes), "MediaTooLargeError")
    webp = image_bytes(Image.new("RGB", (16, 16)), "WEBP", lossless=True)
    canvas = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (16383).to_bytes(3, "little") * 2  # 268 Mpx
    add("webp bomb (16384 x 16384 canvas)", "bomb.webp",
        b"RIFF" + struct.pack("<I", 4 + len(canvas) + len(webp) - 12) + b"WEBP" + canvas + webp[12:],
        "MediaTooLargeError")
    tiff_bomb = bytearray(image_bytes(Image.new("L", (8, 8)), "TIFF"))
    tiff_bomb = _tiff_with_size(bytes(tiff_bomb), 100_000, 100_000)
    add("tiff bomb (100k x 100k)", "bomb.tif", tiff_bomb, "MediaTooLargeError")
    tiff = bytearray(image_bytes(Image.new("RGB", (8, 8)), "TIFF"))
    add("tiff with a broken body", "broken.tif", bytes(tiff[:60]), "CorruptMediaError")
    add("1x1 image", "tiny.png", image_bytes(Image.new("RGB", (1, 1)), "PNG"), "NO_FACE")
    add("black image", "black.jpg", image_bytes(Image.new("RGB", (320, 240)), "JPEG"), "NO_FACE")
    # --- awkward but valid images
    add("jpeg with trailing garbage", "trailing.jpg", jpeg + b"\xde\xad" * 500, VERDICT)
    add("grey jpeg", "grey.jpg", image_bytes(rgb.convert("L"), "JPEG"), VERDICT)
    add("16-bit grey png", "grey16.png", image_bytes(Image.fromarray(
        np.asarray(rgb.convert("L"), np.uint16) * 257), "PNG"), VERDICT)
    add("palette png", "palette.png", image_bytes(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), VERDICT)
    add("cmyk jpeg", "cmyk.jpg", image_bytes(rgb.convert("CMYK"), "JPEG"), VERDICT)
    rgba = np.dstack([face, np.zeros(face.shape[:2], np.uint8)])
    add("fully transparent face", "transparent.png", image_bytes(Image.fromarray(rgba, "RGBA"), "PNG"), "NO_FACE")
    opaque = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    add("opaque rgba face", "opaque.png", image_bytes(Image.fromarray(opaque, "RGBA"), "PNG"), VERDICT)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: a viewer turns it 90 degrees clockwise
    add("exif-rotated jpeg", "rotated.jpg", image_bytes(rgb.rotate(90, expand=True), "JPEG", exif=exif), VERDICT)
    add("webp", "face.webp", image_bytes(rgb, "WEBP"), VERDICT)
    add("bmp", "face.bmp", image_bytes(rgb, "BMP"), VERDICT)
    add("odd name with a newline", "two\nlines.jpg", jpeg, VERDICT)
    add("odd name with brackets", "clip [final] :joy:.jpg", jpeg, VERDICT)
    add("unicode name", "visage ü 顔.jpg", jpeg, VERDICT)
    # --- videos
    frames = _frames()
    clip = write_video(root / "clip.mp4", frames, fps=10)
    whole = clip.read_bytes()
    cases.append(("h264 mp4", clip, VERDICT))
    add("mp4 cut to its first 300 bytes", "cut300.mp4", whole[:300], "CorruptMediaError")
    add("mp4 with its index zeroed", "zeroed.mp4", whole[:64] + bytes(len(whole) - 64), "EmptyMediaError")
    faststart = write_video(root / "faststart.mp4", _frames(20), fps=10, options={"movflags": "faststart"})
    add("faststart mp4 cut to 85 %", "cut85.mp4", faststart.read_bytes()[: int(faststart.stat().st_size * 0.85)],
        VERDICT)
    cases.append(("one-frame video", write_video(root / "one.mp4", frames[:1], fps=10), VERDICT))
    cases.append(("video without a face", write_video(root / "noface.mp4", _frames(face=False), fps=10), "NO_FACE"))
    cases.append(("rotated video", write_video(root / "rotated.mp4", frames, fps=10, rotation=90), VERDICT))
    cases.append(("variable frame rate", write_video(root / "vfr.mp4", frames, pts=[0, 40, 90, 300, 310, 700, 900, 1000]),
                  VERDICT))
    cases.append(("vp8 webm", write_video(root / "clip.webm", frames, fps=10), VERDICT))
    cases.append(("mpeg4 avi", write_video(root / "clip.avi", frames, fps=10), VERDICT))
    cases.append(("matroska", write_video(root / "clip.mkv", frames, fps=10), VERDICT))
    cases.append(("quicktime", write_video(root / "clip.mov", frames, fps=10), VERDICT))
    cases.append(("mpeg-1", write_video(root / "clip.mpg", frames, fps=25), VERDICT))
    cases.append(("10-bit h264", write_video(root / "tenbit.mkv", frames, fps=10, options={"pix_fmt": "yuv420p10le"}),
                  VERDICT))
    cases.append(("video with audio", write_video(root / "audio.mp4", frames, fps=10, audio=True), VERDICT))
    cases.append(("declared-huge video (9000 x 9000 MJPEG)", _huge_mjpeg(root / "huge.avi"), "MediaTooLargeError"))
    cases.append(("two video streams", _two_streams(root / "two.mkv", frames), VERDICT))
    from facetrust.media.testing import write_audio

    cases.append(("audio only", write_audio(root / "sound.m4a"), "UnsupportedMediaError"))
    return cases
