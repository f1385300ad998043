"""Degradations applied identically to real and synthetic-fake faces during training.

They make compression, resampling and blur uninformative of the label, so a compressed real video is not
called fake for being compressed. ``h264_roundtrip`` encodes one frame with libx264 and decodes it again:
real video-codec artefacts (4×4 integer transform, deblocking, chroma subsampling), not a JPEG imitation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DegradeConfig:
    """Probability and range of each degradation (applied in this order)."""

    downscale_p: float = 0.3
    downscale_range: tuple[float, float] = (0.35, 0.9)  # resize factor before scaling back up
    blur_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.6)
    motion_blur_p: float = 0.1
    noise_p: float = 0.15
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    h264_p: float = 0.35
    h264_crf: tuple[int, int] = (18, 40)
    jpeg_p: float = 0.4
    jpeg_quality: tuple[int, int] = (35, 95)
    h264_inter_share: float = 0.0  # share of the H.264 round trips coded as a P-frame after moving frames


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an RGB image as JPEG at ``quality`` and decode it."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buffer, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def h264_roundtrip(image: np.ndarray, crf: int) -> np.ndarray:
    """Encode an RGB image as one H.264 frame (yuv420p, given CRF) and decode it."""
    height, width = image.shape[:2]
    even = image[: height - height % 2, : width - width % 2]
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = even.shape[1], even.shape[0]
    encoder.pix_fmt = "yuv420p"

    encoder.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24").reformat(format="yuv420p")
    packets = list(encoder.encode(frame)) + list(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded: list[np.ndarray] = []
    for packet in packets:
        decoded.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(packet))
    decoded.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(None))
    if not decoded:  # pragma: no cover - libx264 always returns the frame after flushing
        raise RuntimeError("H.264 round trip produced no frame")
    out = image.copy()
    out[: even.shape[0], : even.shape[1]] = decoded[0]
    return out


def h264_inter_roundtrip(image: np.ndarray, crf: int, rng: np.random.Generator, frames: int = 3) -> np.ndarray:
    """``image`` as the last frame of a short H.264 clip (yuv420p, given CRF) whose earlier frames are the
    same picture moved by a few pixels: coded as a P-frame with motion compensation, as every frame of a video
    but its keyframes is. P-frames are quantised more coarsely than the intra frame of :func:`h264_roundtrip`
    at the same CRF, and carry block-matching residue."""
    height, width = image.shape[:2]
    even = np.ascontiguousarray(image[: height - height % 2, : width - width % 2])
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = even.shape[1], even.shape[0]
    encoder.pix_fmt = "yuv420p"
    encoder.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency", "bframes": "0"}
    pictures = []
    for _ in range(frames - 1):
        dx, dy = rng.uniform(-4, 4, size=2)
        shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        pictures.append(cv2.warpAffine(even, shift, (even.shape[1], even.shape[0]), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REFLECT))
    pictures.append(even)
    packets = []
    for picture in pictures:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24").reformat(format="yuv420p")
        packets += list(encoder.encode(frame))
    packets += list(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded: list[np.ndarray] = []
    for packet in packets:
        decoded.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(packet))
    decoded.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(None))
    if len(decoded) < frames:  # pragma: no cover - libx264 returns every frame after flushing
        raise RuntimeError("H.264 round trip lost frames")
    out = image.copy()
    out[: even.shape[0], : even.shape[1]] = decoded[-1]
    return out


def _motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(3, 8))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    angle = rng.uniform(0, 180)
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(image, -1, kernel)


def degrade(image: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig | None = None) -> np.ndarray:
    """Apply a random chain of degradations to an RGB uint8 image."""
    cfg = cfg or DegradeConfig()
    out = image
    height, width = out.shape[:2]
    if rng.random() < cfg.downscale_p:
        factor = rng.uniform(*cfg.downscale_range)
        small = (max(8, int(width * factor)), max(8, int(height * factor)))
        out = cv2.resize(out, small, interpolation=cv2.INTER_AREA)
        up = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST][int(rng.integers(0, 3))]
        out = cv2.resize(out, (width, height), interpolation=up)
    if rng.random() < cfg.blur_p:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.motion_blur_p:
        out = _motion_blur(out, rng)
    if rng.random() < cfg.noise_p:
        noise = rng.normal(0, rng.uniform(*cfg.noise_sigma), size=out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < cfg.h264_p:
        crf = int(rng.integers(cfg.h264_crf[0], cfg.h264_crf[1] + 1))
        # the share is drawn only when on, so configs without it keep their exact random stream
        if cfg.h264_inter_share > 0 and rng.random() < cfg.h264_inter_share:
            out = h264_inter_roundtrip(out, crf, rng)
        else:
            out = h264_roundtrip(out, crf)
    if rng.random() < cfg.jpeg_p:
        out = jpeg_roundtrip(out, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    return out
