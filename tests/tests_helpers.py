"""Helpers importable from tests (tests/ is on sys.path through conftest's rootdir)."""

import cv2
import numpy as np


def astronaut_variants(count: int) -> list[np.ndarray]:
    """Crops of the astronaut photo at different scales and colours, each holding the face."""
    from skimage import data

    base = data.astronaut()
    out = []
    for i in range(count):
        crop = base[max(0, 10 * i) : 320 + 10 * i, 80 + 5 * i : 400 + 5 * i]
        crop = cv2.resize(crop, (240, 240), interpolation=cv2.INTER_AREA)
        out.append(np.clip(crop.astype(int) + (i * 7 - 20), 0, 255).astype(np.uint8))
    return out
