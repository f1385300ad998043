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


def write_tiny_data_root(data, photos: int, video=None, videos: int = 1) -> list[dict[str, str]]:
    """A data folder like ../shared/data in miniature: ``photos`` astronaut photos (one identity each), an
    optional real video copied ``videos`` times from ``video`` (groups vid, vid2, ...: with holdout_fraction
    0.4 or 0.5, vid is held out and vid2 trained on), and manifest.csv. Returns the manifest rows."""
    import csv
    import shutil

    from facetrust.media.testing import write_image

    rows = []
    for i, image in enumerate(astronaut_variants(photos)):
        rel = f"real/images/set/{i}.jpg"
        write_image(data / rel, image)
        rows.append({"path": rel, "label": "real", "kind": "image", "source": "t", "group": f"id{i}", "method": "camera"})
    if video is not None:
        (data / "real/videos").mkdir(parents=True)
        for k in range(videos):
            rel = "real/videos/clip.mp4" if k == 0 else f"real/videos/clip{k + 1}.mp4"
            shutil.copy(video, data / rel)
            group = "vid" if k == 0 else f"vid{k + 1}"
            rows.append({"path": rel, "label": "real", "kind": "video", "source": "t", "group": group,
                         "method": "camera"})
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


def make_tiny_clip_model(seed: int = 0, architecture: str = "cnn_bilstm"):
    """A randomly initialised clip model (``(B, T, 3, H, W)`` → ``(B, 1)``) with non-trivial BatchNorm
    statistics and a scaled-up head, so its logits differ between clips; for ``save_detector`` under a spec
    with ``clip_length`` set."""
    import torch

    from facetrust.models import build_model

    torch.manual_seed(seed)
    model = build_model(architecture, num_outputs=1)
    randomise_batchnorm(model)
    with torch.no_grad():
        model.head.weight.mul_(20)
    return model.eval()


def randomise_batchnorm(model) -> None:
    """Give every BatchNorm2d of ``model`` non-trivial statistics and scales (in place), so a randomly
    initialised test model's outputs vary between inputs."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.8, 1.2)


def write_extraction(out, *, videos_per_class: int = 2, frames: int = 4, side: int = 96, margin: float = 1.3):
    """A `facetrust extract` folder in miniature: real and fake astronaut "videos" of ``frames`` crops each in
    the train and val splits (the fakes carry a pasted, recoloured face patch), index.csv and extract.json."""
    import csv
    import json

    from facetrust.extract import INDEX_COLUMNS

    pictures = astronaut_variants(frames)
    rows = []
    for split in ("train", "val"):
        for label in ("real", "fake"):
            for v in range(videos_per_class):
                item = f"{split}_{label}_{v}"
                for frame, picture in enumerate(pictures):
                    image = cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA)
                    if label == "fake":
                        patch = image[side // 3 : 2 * side // 3, side // 3 : 2 * side // 3]
                        image[side // 3 : 2 * side // 3, side // 3 : 2 * side // 3] = patch[:, :, ::-1]
                    crop = f"crops/{item}/{frame:06d}_p0.jpg"
                    (out / crop).parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(out / crop), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                    rows.append({"item": item, "path": f"{item}.mp4", "label": label,
                                 "method": "swap" if label == "fake" else "real", "group": f"{item}_g",
                                 "split": split, "kind": "video", "frame_index": frame, "timestamp": frame / 25,
                                 "person": 0, "x1": 1, "y1": 1, "x2": 9, "y2": 9, "face_score": 0.99, "crop": crop})
    with (out / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "extract.json").write_text(json.dumps({"options": {"crop_size": side, "crop_margin": margin}}))
    return out
