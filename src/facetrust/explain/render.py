"""Drawing explanations: heatmap colouring, overlays and the crop | heatmap | overlay panel (no torch).

Evidence (a face the detector calls FAKE) is drawn in colour (the JET colour map); a map of a face that is
not evidence (called REAL or UNCERTAIN) is drawn in grey, so it can never be mistaken for evidence.
"""

from __future__ import annotations

import cv2
import numpy as np

from facetrust.errors import InputError

CAPTION_HEIGHT = 44  # pixels of the caption strip under a panel
_EVIDENCE_COLOUR = (255, 80, 60)  # RGB of the caption's verdict text
_NOT_EVIDENCE_COLOUR = (200, 200, 200)


def check_heatmap(heatmap: np.ndarray) -> np.ndarray:
    """``heatmap`` as a float32 ``(H, W)`` array in [0, 1]; anything else → :class:`InputError`."""
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise InputError(f"a heatmap is a non-empty (H, W) array, got shape {heatmap.shape}")
    heatmap = heatmap.astype(np.float32, copy=False)
    if not np.isfinite(heatmap).all() or heatmap.min() < 0.0 or heatmap.max() > 1.0:
        raise InputError("a heatmap holds finite values in [0, 1]")
    return heatmap


def colourise(heatmap: np.ndarray, *, evidence: bool = True) -> np.ndarray:
    """A ``(H, W)`` map in [0, 1] → ``(H, W, 3)`` uint8 RGB: JET colours for evidence, grey levels otherwise."""
    levels = np.round(check_heatmap(heatmap) * 255).astype(np.uint8)
    if not evidence:
        return np.repeat(levels[:, :, None], 3, axis=2)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def overlay(crop: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.45, evidence: bool = True) -> np.ndarray:
    """``crop`` (uint8 RGB) blended with the coloured ``heatmap`` (resized to the crop): ``alpha`` of heatmap."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        raise InputError(f"crop must be a uint8 (H, W, 3) RGB array, got {crop.dtype} {crop.shape}")
    height, width = crop.shape[:2]
    heatmap = check_heatmap(heatmap)
    if heatmap.shape != (height, width):
        heatmap = np.clip(cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    coloured = colourise(heatmap, evidence=evidence).astype(np.float32)
    return np.clip(crop.astype(np.float32) * (1 - alpha) + coloured * alpha + 0.5, 0, 255).astype(np.uint8)


def panel(crop: np.ndarray, heatmap: np.ndarray, caption: list[str], *, evidence: bool,
          alpha: float = 0.45) -> np.ndarray:
    """crop | heatmap | overlay side by side, with ``caption`` (1–2 ASCII lines) in a strip underneath."""
    height, width = crop.shape[:2]
    tiles = [crop, colourise(cv2.resize(check_heatmap(heatmap), (width, height)).clip(0, 1), evidence=evidence),
             overlay(crop, heatmap, alpha=alpha, evidence=evidence)]
    strip = np.full((CAPTION_HEIGHT, width * 3, 3), 24, np.uint8)
    scale = max(0.35, min(0.55, width * 3 / 1300))
    for line_number, text in enumerate(caption[:2]):
        colour = _EVIDENCE_COLOUR if evidence and line_number == 0 else _NOT_EVIDENCE_COLOUR
        cv2.putText(strip, text.encode("ascii", "replace").decode("ascii"), (6, 17 + 20 * line_number),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return np.vstack([np.hstack(tiles), strip])


__all__ = ["CAPTION_HEIGHT", "check_heatmap", "colourise", "overlay", "panel"]
