"""Animated stills: a proxy for one-shot talking-head generators, made from real media alone.

One-shot talking-head models (PD-FGC, DreamTalk, SadTalker, LivePortrait...) animate a *single* source image
with the motion of a driving video: the face moves, but its texture, its lighting and its background come
from one still and are bent into each frame. We make the same kind of clip without any generator: a source
crop is warped, frame by frame, so that its 5 landmarks follow the landmark track of a real clip (a thin-plate
spline through the landmarks, the rest of the crop carried along by the similarity that best maps the
landmarks). Variants, drawn once per clip:

- ``source``: a frame of the driving clip itself (same person, same camera, same codec: the only difference
  from the real clip is that nothing but geometry changes from frame to frame) or a photo of someone else
  (the cross-identity setting of talking-head models, where the source is a portrait);
- ``mouth``: the mouth region of each real frame is blended into the warped still (a mouth-driven talking
  head: lips move, the rest of the face is frozen); only for same-clip sources;
- the driving track is smoothed over time as generators' motion is, by a random amount.

A clip model trained on (real clip, animated still) pairs must look at how the face changes over time, not at
one frame, since every frame of an animated still is a real image slightly bent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class AnimateConfig:
    """Ranges of the random choices of :func:`animate_still`."""

    mouth_share: float = 0.4  # share of same-clip clips whose mouth region is the real frame's
    smoothing: tuple[int, int] = (1, 5)  # moving-average window (frames) over the driving landmarks
    mouth_blur: tuple[int, int] = (7, 21)  # Gaussian kernel (odd) of the mouth mask's soft edge
    spline_smoothing: float = 0.5  # thin-plate spline smoothing (px²): landmark jitter does not tear the face


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, translation) that maps ``src`` points onto ``dst``."""
    matrix, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks: a plain translation of the centroids
        matrix = np.eye(2, 3)
        matrix[:, 2] = dst.mean(axis=0) - src.mean(axis=0)
    return matrix.astype(np.float64)


def warp_to_landmarks(image: np.ndarray, source_points: np.ndarray, target_points: np.ndarray,
                      *, smoothing: float = 0.5) -> np.ndarray:
    """Bend ``image`` so that its ``source_points`` (K, 2) land on ``target_points`` (K, 2), in pixels.

    The backward map (output pixel → source pixel) is a thin-plate spline through the K landmark pairs and
    through anchors on the image border that move with the landmarks' best similarity, so the face deforms
    locally and the rest of the image follows the head rigidly."""
    if image.ndim != 3 or source_points.shape != target_points.shape or source_points.shape[-1] != 2:
        raise ConfigError("warp_to_landmarks needs an (H, W, C) image and two (K, 2) point sets of one shape")
    height, width = image.shape[:2]
    back = _similarity(target_points, source_points)  # output → source, for the anchors
    edge = np.linspace(0.0, 1.0, 5)
    border = np.concatenate([
        np.stack([edge * (width - 1), np.zeros_like(edge)], 1),
        np.stack([edge * (width - 1), np.full_like(edge, height - 1)], 1),
        np.stack([np.zeros_like(edge[1:-1]), edge[1:-1] * (height - 1)], 1),
        np.stack([np.full_like(edge[1:-1], width - 1), edge[1:-1] * (height - 1)], 1),
    ])
    anchors_src = border @ back[:, :2].T + back[:, 2]
    inputs = np.concatenate([target_points.astype(np.float64), border])
    outputs = np.concatenate([source_points.astype(np.float64), anchors_src])
    spline = RBFInterpolator(inputs, outputs, kernel="thin_plate_spline", smoothing=smoothing)
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    dense = spline(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(height, width, 2).astype(np.float32)
    return cv2.remap(image, dense[..., 0], dense[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def mouth_mask(shape: tuple[int, int], landmarks: np.ndarray, blur: int) -> np.ndarray:
    """A soft (H, W) float32 mask over the mouth, placed by the two mouth-corner landmarks (indices 3, 4)."""
    left, right = landmarks[3].astype(np.float64), landmarks[4].astype(np.float64)
    width = max(float(np.linalg.norm(right - left)), 2.0)
    centre = (left + right) / 2 + np.array([0.0, 0.15 * width])
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    mask = np.zeros(shape, np.float32)
    axes = (int(round(0.8 * width)), int(round(0.5 * width)))
    cv2.ellipse(mask, (int(round(centre[0])), int(round(centre[1]))), axes, angle, 0, 360, 1.0, -1)
    blur |= 1
    return cv2.GaussianBlur(mask, (blur, blur), 0)


def smooth_track(track: np.ndarray, window: int) -> np.ndarray:
    """Moving average of a (T, K, 2) landmark track over ``window`` frames (edges use the frames they have)."""
    if window <= 1 or len(track) < 2:
        return track.astype(np.float64)
    out = np.empty(track.shape, np.float64)
    half = window // 2
    for t in range(len(track)):
        out[t] = track[max(0, t - half) : t + half + 1].mean(axis=0)
    return out


def animate_still(
    source: np.ndarray,
    source_landmarks: np.ndarray,
    driving_landmarks: np.ndarray,
    rng: np.random.Generator,
    cfg: AnimateConfig | None = None,
    *,
    driving_frames: Sequence[np.ndarray] | None = None,
    reference: int = 0,
) -> list[np.ndarray]:
    """Animate the still ``source`` (H, W, 3 uint8) along ``driving_landmarks`` (T, 5, 2): one frame per step.

    The motion is relative: frame t bends the source by how the driving face moved from its ``reference``
    frame (``driving[t] - driving[reference]``, expressed in the source through the similarity between the two
    faces), so a source of another person keeps its own face shape; a source that *is* driving frame k, with
    ``reference=k``, follows the track itself. With ``driving_frames`` (the real frames of the track,
    same size as ``source``), a random share of clips (``cfg.mouth_share``) take each real frame's mouth."""
    cfg = cfg or AnimateConfig()
    driving = np.asarray(driving_landmarks, np.float64)
    if driving.ndim != 3 or driving.shape[1:] != (5, 2) or len(driving) == 0:
        raise ConfigError(f"driving_landmarks must be (T, 5, 2), got {driving.shape}")
    if driving_frames is not None and len(driving_frames) != len(driving):
        raise ConfigError("driving_frames must have one frame per driving landmark set")
    if not 0 <= reference < len(driving):
        raise ConfigError(f"reference must index the driving track (0..{len(driving) - 1}), got {reference}")
    window = int(rng.integers(cfg.smoothing[0], cfg.smoothing[1] + 1))
    driving = smooth_track(driving, window)
    to_source = _similarity(driving[reference], np.asarray(source_landmarks, np.float64))
    motion = (driving - driving[reference]) @ to_source[:, :2].T  # displacements, rotated and scaled into the source
    use_mouth = driving_frames is not None and rng.random() < cfg.mouth_share
    blur = int(rng.integers(cfg.mouth_blur[0], cfg.mouth_blur[1] + 1))
    frames = []
    for t in range(len(driving)):
        target = np.asarray(source_landmarks, np.float64) + motion[t]
        frame = warp_to_landmarks(source, np.asarray(source_landmarks, np.float64), target,
                                  smoothing=cfg.spline_smoothing)
        if use_mouth and driving_frames is not None:
            real = np.asarray(driving_frames[t])
            mask = mouth_mask(real.shape[:2], np.asarray(driving_landmarks[t]), blur)[..., None]
            frame = (frame * (1 - mask) + real * mask).round().astype(np.uint8)
        frames.append(frame)
    return frames


__all__ = ["AnimateConfig", "animate_still", "mouth_mask", "smooth_track", "warp_to_landmarks"]
