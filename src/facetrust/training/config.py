"""The typed training configuration. Every default is declared (and explained) once, here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainConfig:
    """Self-blended-image training of a frame-level detector."""

    # data
    data_root: Path = Path("../shared/data")  # folder holding manifest.csv and real/
    cache_dir: Path = Path("data_cache/crops")  # prepared face crops (re-used when present)
    output_dir: Path = Path("runs/default")  # weights, spec, metrics, model card
    image_limit_per_source: int = 1200  # cap of photos taken per source folder (celeba, utkface, ...)
    video_frames_per_clip: int = 48  # frames sampled from each real video
    holdout_fraction: float = 0.15  # share of identities (groups) held out for calibration
    crop_store_size: int = 256  # side of stored crops; training takes input_size crops from them
    min_face_size: int = 40  # faces smaller than this (pixels) are not used
    # model
    name: str = "sbi_effnet_lite0"
    architecture: str = "efficientnet_lite0"
    input_size: int = 224
    crop_margin: float = 1.3  # inference crop side = margin × face box side
    frozen_blocks: int = 2  # stem + this many early blocks keep their ImageNet weights (CPU budget)
    drop_rate: float = 0.2
    # optimisation
    epochs: int = 2
    max_minutes: float = 0.0  # stop after this wall time (0 = no limit); the epoch in progress is cut short
    batch_size: int = 32  # pairs of (real, self-blended) per step → 2×batch_size images
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    grad_clip: float = 2.0
    seed: int = 0
    num_workers: int = 2
    threads: int = 0  # torch threads (0 = torch default)
    device: str = "auto"
    # evaluation / calibration
    eval_pairs: int = 600  # held-out (real, self-blended) pairs used for calibration and metrics
    dev_dir: Path | None = None  # optional labelled videos (real/ and fake/ subfolders) scored after training
    dev_frames: int = 32
