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


def write_tiny_data_root(data, photos: int, video=None) -> list[dict[str, str]]:
    """A data folder like ../shared/data in miniature: ``photos`` astronaut photos (one identity each), an
    optional real video copied from ``video``, and manifest.csv. Returns the manifest rows."""
    import csv
    import shutil

    from facetrust.media.testing import write_image

    rows = []
    for i, image in enumerate(astronaut_variants(photos)):
        rel = f"real/images/set/{i}.jpg"
        write_image(data / rel, image)
        rows.append({"path": rel, "label": "real", "kind": "image", "source": "t", "group": f"id{i}", "method": "camera"})
    if video is not None:
        rel = "real/videos/clip.mp4"
        (data / "real/videos").mkdir(parents=True)
        shutil.copy(video, data / rel)
        rows.append({"path": rel, "label": "real", "kind": "video", "source": "t", "group": "vid", "method": "camera"})
    with (data / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def write_generic_dataset(root, media_dir):
    """A dataset in the generic layout, from the session's test media: real/ holds a face clip, a photo and a
    video without a face; fake/swap/ holds a face clip and a truncated mp4. Returns ``root``."""
    import shutil

    (root / "real").mkdir(parents=True)
    (root / "fake" / "swap").mkdir(parents=True)
    shutil.copy(media_dir / "face clip.mp4", root / "real" / "clip one.mp4")
    shutil.copy(media_dir / "astronaut photo ü.jpg", root / "real" / "photo.jpg")
    shutil.copy(media_dir / "no face.mp4", root / "real" / "empty scene.mp4")
    shutil.copy(media_dir / "face clip.mp4", root / "fake" / "swap" / "clip two.mp4")
    shutil.copy(media_dir / "truncated.mp4", root / "fake" / "swap" / "broken.mp4")
    return root
