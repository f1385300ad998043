"""Helpers for the media tests: index-coded frames, marker pictures, crafted headers."""

from __future__ import annotations

import struct
import zlib

import numpy as np

W, H = 64, 48
CELL = 8  # index bits are drawn as 8x8 black/white cells, robust to lossy coding
BITS = 12


def index_frame(i: int, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A frame whose content encodes ``i`` (0..4095): mid-grey with one black/white cell per bit."""
    width, height = size
    frame = np.full((height, width, 3), 128, np.uint8)
    for bit in range(BITS):
        row, col = divmod(bit, width // CELL)
        frame[row * CELL : (row + 1) * CELL, col * CELL : (col + 1) * CELL] = 255 if (i >> bit) & 1 else 0
    return frame


def frame_number(image: np.ndarray) -> int:
    """Read back the number drawn by :func:`index_frame`."""
    width = image.shape[1]
    value = 0
    for bit in range(BITS):
        row, col = divmod(bit, width // CELL)
        cell = image[row * CELL + 2 : (row + 1) * CELL - 2, col * CELL + 2 : (col + 1) * CELL - 2]
        value |= int(cell.mean() > 128) << bit
    return value


def marker_image(width: int = W, height: int = H) -> np.ndarray:
    """An asymmetric picture: red block top-left, blue block bottom-right, green band at the top."""
    image = np.full((height, width, 3), 60, np.uint8)
    image[: height // 8, :] = (0, 200, 0)
    image[: height // 3, : width // 3] = (230, 20, 20)
    image[-height // 3 :, -width // 4 :] = (20, 20, 230)
    return image


def assert_close(actual: np.ndarray, expected: np.ndarray, tolerance: float = 6.0) -> None:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == np.uint8
    error = np.abs(actual.astype(np.int16) - expected.astype(np.int16)).mean()
    assert error <= tolerance, f"mean abs error {error:.2f} > {tolerance}"


def crafted_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (no real pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def crafted_bmp(width: int, height: int) -> bytes:
    """A 54-byte BMP header claiming ``width`` x ``height`` at 24 bits, without pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + width * height * 3 % 2**32, 0, 0, 54) + info


def mp4_boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level mp4 boxes: type -> (offset, size)."""
    boxes, offset = {}, 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.setdefault(data[offset + 4 : offset + 8], (offset, size))
        if size < 8:
            break
        offset += size
    return boxes
