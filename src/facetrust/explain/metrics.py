"""Honesty measures of a heatmap against a known altered region (no torch), and the self-blended faces to
measure them on: :func:`self_blended_crop` gives a fake crop together with its blend mask in crop pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facetrust.errors import InputError
from facetrust.types import CropSpec, FaceBox


@dataclass(frozen=True)
class Localisation:
    """How well one heatmap points at the altered region (the mask above half its peak)."""

    mass_inside: float  # share of the heatmap's mass inside the region
    region_share: float  # share of the crop the region covers (what a uniform map would put inside)
    mass_ratio: float  # mass_inside / region_share: 1 = no better than uniform
    pointing_hit: bool  # the heatmap's maximum lies inside the region (pointing game, Zhang et al. 2016)


def localisation(heatmap: np.ndarray, mask: np.ndarray, level: float = 0.5) -> Localisation:
    """Compare ``heatmap`` with the altered region ``mask >= level * mask.max()`` (both ``(S, S)``; blends of
    ratio 0.25–1 scale the whole mask). An all-zero heatmap points nowhere: ratio 0, no hit. An empty region
    or one covering everything cannot be scored: :class:`InputError`."""
    heatmap = np.asarray(heatmap, np.float64)
    if heatmap.shape != np.shape(mask):
        raise InputError(f"heatmap {heatmap.shape} and mask {np.shape(mask)} differ in shape")
    mask = np.asarray(mask, np.float64)
    region = mask >= level * float(mask.max()) if mask.max() > 0 else np.zeros(mask.shape, bool)
    share = float(region.mean())
    total = float(heatmap.sum())
    if not 0.0 < share < 1.0:
        raise InputError("localisation needs a region that is neither empty nor everything")
    if total <= 0:
        return Localisation(0.0, share, 0.0, False)
    inside = float(heatmap[region].sum()) / total
    peak = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return Localisation(inside, share, inside / share, bool(region[peak]))


def self_blended_crop(image: np.ndarray, face: FaceBox, crop: CropSpec, rng: np.random.Generator,
                      config: object | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Self-blend ``face`` of ``image`` (:func:`facetrust.synthesis.self_blend`, which needs its landmarks)
    and cut the fake and its blend mask exactly as a detector with ``crop`` would: ``(crop uint8 (S, S, 3),
    mask float32 (S, S) in [0, 1])``."""
    from facetrust.faces import crop_face
    from facetrust.synthesis import SbiConfig, self_blend

    if face.landmarks is None:
        raise InputError("self-blending needs the face's landmarks")
    _, fake, mask = self_blend(image, face.landmarks, rng, config if isinstance(config, SbiConfig) else None)
    mask_image = np.repeat(np.round(mask * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return crop_face(fake, face, crop), crop_face(mask_image, face, crop)[:, :, 0].astype(np.float32) / 255.0


__all__ = ["Localisation", "localisation", "self_blended_crop"]
