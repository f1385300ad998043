"""Self-blended pairs from a crop store: the time-shifted mouth family of video rows."""

from __future__ import annotations

import cv2
import numpy as np

from facetrust.synthesis import DegradeConfig, SbiConfig
from facetrust.training.dataset import SelfBlendPairs, video_neighbours
from facetrust.training.prepare import CropStore
from tests_helpers import astronaut_variants

OFF = DegradeConfig(downscale_p=0, blur_p=0, motion_blur_p=0, noise_p=0, h264_p=0, jpeg_p=0)
LANDMARKS = np.array([[100, 110], [156, 110], [128, 140], [106, 170], [150, 170]], np.float32)


def _store() -> CropStore:
    """Rows 0-5: six frames of one video; row 6: a photo. Frame k's face is brightened by 25 k."""
    base = cv2.resize(astronaut_variants(1)[0], (256, 256), interpolation=cv2.INTER_AREA).astype(int)
    images = np.stack([np.clip(base + 25 * k, 0, 255).astype(np.uint8) for k in range(7)])
    rows = [{"path": "v.mp4", "kind": "video", "timestamp": f"{0.1 * k:.3f}", "split": "train"} for k in range(6)]
    rows.append({"path": "p.jpg", "kind": "image", "timestamp": "0", "split": "train"})
    return CropStore(images=images, landmarks=np.tile(LANDMARKS, (7, 1, 1)), rows=rows)


def _pairs(store: CropStore, share: float) -> SelfBlendPairs:
    return SelfBlendPairs(store, np.arange(7), input_size=224, mean=(0.5,) * 3, std=(0.5,) * 3, train=False,
                          sbi=SbiConfig(blend_ratios=(1.0,)), degradations=OFF, time_shift_share=share)


def test_neighbours_are_nearby_frames_of_the_same_video_only() -> None:
    near = video_neighbours(_store(), np.arange(7), reach=2)
    assert list(near[0]) == [1, 2] and list(near[3]) == [1, 2, 4, 5] and 6 not in near


def test_time_shifted_pairs_paste_another_frame_below_the_nose_and_the_family_off_keeps_the_stream() -> None:
    store = _store()
    plain, shifted, again = _pairs(store, 0.0), _pairs(store, 1.0), _pairs(store, 0.0)
    for item in range(6):
        real, fake = shifted[item]
        diff = (fake - real).abs().sum(dim=0)
        assert diff[:80].max() == 0  # eyes and forehead are this frame's (the eyes are at row 94 of the cut)
        assert diff.max() > 0.2  # the mouth is another frame's (each is 25 levels brighter or darker)
    for item in range(7):
        assert all((a == b).all() for a, b in zip(plain[item], again[item], strict=True))
    real, fake = shifted[6]  # a photo has no other frame: an ordinary self-blend, as with the family off
    assert all((a == b).all() for a, b in zip((real, fake), plain[6], strict=True))
