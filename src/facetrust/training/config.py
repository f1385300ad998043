"""The typed training configuration. Every default is declared (and explained) once, here.

Values are checked when the config is built (``__post_init__``), i.e. before any crop is prepared: a value
out of range, or an architecture that is not registered, is a :class:`~facetrust.errors.ConfigError`
naming the key and what it accepts.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from facetrust.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from facetrust.synthesis.degrade import DegradeConfig
    from facetrust.synthesis.sbi import SbiConfig


def _require(key: str, value: float, ok: bool, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key} must be {allowed}, got {value!r}")



def _decoder_renderer(share: float, folder: Path | None) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
    """A :class:`facetrust.synthesis.upsampler.DecoderRenderer` of ``folder`` when its family is on (share > 0)."""
    if share <= 0 or folder is None:
        return None
    from facetrust.synthesis.upsampler import DecoderRenderer

    return DecoderRenderer(folder)


@dataclass(frozen=True)
class TrainConfig:
    """Training of a frame-level or clip-level (temporal) detector on self-blended images and/or real fakes."""

    # data
    data_root: Path = Path("../shared/data")  # folder holding manifest.csv and real/
    cache_dir: Path = Path("data_cache/crops")  # prepared face crops (re-used when present)
    output_dir: Path = Path("runs/default")  # weights, spec, metrics, model card
    image_limit_per_source: int = 1200  # cap of photos taken per source folder (celeba, utkface, ...)
    video_frames_per_clip: int = 48  # frames sampled from each real video
    holdout_fraction: float = 0.15  # share of identities (groups) held out for calibration
    crop_store_size: int = 256  # side of stored crops; training takes input_size crops from them
    min_face_size: int = 40  # faces smaller than this (pixels) are not used
    sbi: bool = True  # self-blended fakes made on the fly from the real media of data_root
    sbi_lower_face_share: float = 0.0  # share of self-blends through a jaw/mouth mask (lip-sync traces)
    sbi_resample_share: float = 0.0  # share of self-blends whose source is rendered at low resolution
    sbi_restore_share: float = 0.0  # share of self-blends whose source gets a restoration look (sharper)
    sbi_time_shift_share: float = 0.0  # share of video self-blends pasting a nearby frame's mouth (lip-sync)
    sbi_decoder_share: float = 0.0  # share of self-blends whose source is rebuilt by an auto-encoder (decoder)
    sbi_decoders: Path | None = None  # folder of auto-encoders for it (scripts/train_upsamplers.py)
    h264_inter_share: float = 0.0  # share of H.264 degradations (both classes) coded as P-frames of a moving clip
    downscale_p: float = 0.3  # chance of the down-and-up resize degradation (both classes)
    downscale_min: float = 0.35  # smallest resize factor of that degradation (0.2 ≈ a 45-px face in a 224-px crop)
    real_fakes: tuple[Path, ...] = ()  # `facetrust extract` folders: their real and fake crops join training
    real_fake_share: float = 0.5  # share of each batch's images drawn from real_fakes when sbi is on too
    balanced_sampling: bool = True  # real_fakes drawn so real/fake, and each fake method, weigh the same
    hard_reals: Path | None = None  # mined hard real crops (scripts/mine_hard_reals.py): repeated in the pairs
    hard_real_repeats: int = 3  # how many times each hard real crop is drawn per epoch (1 = like any other)
    augment: str = "none"  # albumentations policy: none, light, light_sharpen, standard (facetrust.training.augment)
    clahe: bool = False  # add CLAHE to the augmentation policy
    # model
    name: str = "sbi_effnet_lite0"
    architecture: str = "efficientnet_lite0"
    input_size: int = 224
    crop_margin: float = 1.3  # inference crop side = margin × face box side
    frozen_blocks: int = 0  # EfficientNet only: stem + this many early blocks keep their ImageNet weights
    init_from: Path | None = None  # a detector spec (.json) to start from instead of ImageNet (warm start)
    drop_rate: float = 0.2
    clip_length: int = 8  # frames per clip for clip (temporal) architectures; ignored by frame models
    clip_steps: tuple[int, ...] = (1,)  # clip models: windows also cut over every step-th stored frame
    animate_share: float = 0.0  # clip models: share of pairs whose fake is an animated still, not a self-blend
    animate_photo_share: float = 0.3  # of those, share animated from a photo of another person
    rerender_share: float = 0.0  # clip models: share of pairs whose fake is the clip re-rendered by a decoder
    rerender_decoders: Path | None = None  # folder of auto-encoders for it (scripts/train_upsamplers.py)
    # optimisation
    epochs: int = 2
    max_minutes: float = 0.0  # stop after this wall time (0 = no limit); the epoch in progress is cut short
    max_steps: int = 0  # stop after this many optimiser steps (0 = no limit); the schedule spans them
    batch_size: int = 32  # pairs of (real, self-blended) per step → 2×batch_size images
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    grad_clip: float = 2.0
    schedule: str = "cosine"  # "cosine" (per step, after warmup) or "plateau" (ReduceLROnPlateau on val loss)
    plateau_factor: float = 0.5  # plateau: lr is multiplied by this ...
    plateau_patience: int = 1  # ... after this many validations without improvement
    # validation on held-out identities during training (curves, plateau schedule, early stopping)
    val_every_steps: int = 0  # validate every N steps (0 = at the end of every epoch)
    val_pairs: int = 200  # held-out (real, self-blended) pairs, plus up to as many real-fake crops, per validation
    early_stopping_patience: int = 0  # stop after this many validations without improvement (0 = never)
    restore_best: bool = False  # end with the weights of the best validation loss instead of the last ones
    seed: int = 0  # identity split, held-out sampling and (unless train_seed is set) everything else
    train_seed: int | None = None  # initialisation, batch order, blends and augmentation (None = seed); runs that
    # differ only in train_seed are measured on the same held-out identities and items (seed variance)
    num_workers: int = 2
    threads: int = 0  # torch threads (0 = torch default)
    device: str = "auto"
    # checkpoints: pause and resume (e.g. to fit runs into 10-minute device calls)
    resume: bool = False  # continue from <output_dir>/checkpoint.pt when it exists (same config required)
    pause_after_minutes: float = 0.0  # save a checkpoint and stop after this long in this call (0 = never)
    checkpoint_every_steps: int = 200  # also save a checkpoint this often (0 = only when pausing)
    # tracking
    tracking: str = "mlflow"  # "mlflow" (local file store, no server) or "none"
    tracking_dir: Path | None = None  # MLflow store folder; None = <output_dir>/../mlruns
    experiment: str = "facetrust"
    # evaluation / calibration
    eval_pairs: int = 600  # held-out (real, self-blended) pairs used for calibration and metrics
    eval_datasets: tuple[Path, ...] = ()  # after training, `facetrust eval` on each (cross-dataset testing)
    eval_frames: int = 32  # frames per video for eval_datasets

    def __post_init__(self) -> None:
        finite = math.isfinite
        _require("epochs", self.epochs, self.epochs >= 1, ">= 1")
        _require("batch_size", self.batch_size, self.batch_size >= 1, ">= 1")
        _require("lr", self.lr, self.lr > 0 and finite(self.lr), "> 0 (and finite)")
        _require("weight_decay", self.weight_decay, self.weight_decay >= 0 and finite(self.weight_decay), ">= 0")
        _require("holdout_fraction", self.holdout_fraction, 0 < self.holdout_fraction < 1, "in (0, 1)")
        _require("input_size", self.input_size, self.input_size >= 32, ">= 32")
        _require(
            "crop_store_size",
            self.crop_store_size,
            self.crop_store_size >= self.input_size,
            f">= input_size ({self.input_size})",
        )
        _require("crop_margin", self.crop_margin, self.crop_margin >= 1 and finite(self.crop_margin), ">= 1")
        _require("frozen_blocks", self.frozen_blocks, self.frozen_blocks >= 0, ">= 0")
        _require("image_limit_per_source", self.image_limit_per_source, self.image_limit_per_source >= 0, ">= 0")
        _require(
            "video_frames_per_clip", self.video_frames_per_clip, 1 <= self.video_frames_per_clip <= 300, "in 1..300"
        )
        _require("min_face_size", self.min_face_size, self.min_face_size >= 1, ">= 1")
        _require("drop_rate", self.drop_rate, 0 <= self.drop_rate < 1, "in [0, 1)")
        _require("warmup_steps", self.warmup_steps, self.warmup_steps >= 0, ">= 0")
        _require("grad_clip", self.grad_clip, self.grad_clip > 0, "> 0")
        _require("seed", self.seed, self.seed >= 0, ">= 0")
        _require("train_seed", self.train_seed, self.train_seed is None or self.train_seed >= 0, ">= 0 or null")
        _require("max_steps", self.max_steps, self.max_steps >= 0, ">= 0 (0 = no limit)")
        _require("pause_after_minutes", self.pause_after_minutes, self.pause_after_minutes >= 0, ">= 0 (0 = never)")
        _require("checkpoint_every_steps", self.checkpoint_every_steps, self.checkpoint_every_steps >= 0, ">= 0")
        _require("max_minutes", self.max_minutes, self.max_minutes >= 0, ">= 0 (0 = no limit)")
        _require("eval_pairs", self.eval_pairs, self.eval_pairs >= 2, ">= 2")
        _require("num_workers", self.num_workers, self.num_workers >= 0, ">= 0")
        _require("threads", self.threads, self.threads >= 0, ">= 0 (0 = torch default)")
        _require("real_fake_share", self.real_fake_share, 0 < self.real_fake_share < 1, "in (0, 1)")
        _require("clip_length", self.clip_length, 1 <= self.clip_length <= 64, "in 1..64")
        _require("plateau_factor", self.plateau_factor, 0 < self.plateau_factor < 1, "in (0, 1)")
        _require("plateau_patience", self.plateau_patience, self.plateau_patience >= 0, ">= 0")
        _require("val_every_steps", self.val_every_steps, self.val_every_steps >= 0, ">= 0 (0 = every epoch)")
        _require("val_pairs", self.val_pairs, self.val_pairs >= 2, ">= 2")
        _require("early_stopping_patience", self.early_stopping_patience, self.early_stopping_patience >= 0,
                 ">= 0 (0 = never)")
        _require("eval_frames", self.eval_frames, 1 <= self.eval_frames <= 300, "in 1..300")
        _require("sbi_lower_face_share", self.sbi_lower_face_share, 0 <= self.sbi_lower_face_share <= 1, "in [0, 1]")
        _require("sbi_resample_share", self.sbi_resample_share, 0 <= self.sbi_resample_share <= 1, "in [0, 1]")
        _require("sbi_restore_share", self.sbi_restore_share, 0 <= self.sbi_restore_share <= 1, "in [0, 1]")
        _require("h264_inter_share", self.h264_inter_share, 0 <= self.h264_inter_share <= 1, "in [0, 1]")
        _require("sbi_time_shift_share", self.sbi_time_shift_share, 0 <= self.sbi_time_shift_share <= 1, "in [0, 1]")
        _require("hard_real_repeats", self.hard_real_repeats, self.hard_real_repeats >= 1, ">= 1")
        if self.hard_reals is not None and not self.sbi:
            raise ConfigError("hard_reals repeats real crops of the self-blend store: it needs sbi: true")
        _require("downscale_p", self.downscale_p, 0 <= self.downscale_p <= 1, "in [0, 1]")
        _require("downscale_min", self.downscale_min, 0.05 <= self.downscale_min <= 0.9, "in [0.05, 0.9] (the largest factor)")
        _require("sbi_decoder_share", self.sbi_decoder_share, 0 <= self.sbi_decoder_share <= 1, "in [0, 1]")
        if self.sbi_decoder_share > 0 and self.sbi_decoders is None:
            raise ConfigError("sbi_decoder_share > 0 needs sbi_decoders: a folder of auto-encoders made by "
                              "`python scripts/train_upsamplers.py --store CACHE_DIR --out FOLDER`")
        _require("animate_share", self.animate_share, 0 <= self.animate_share <= 1, "in [0, 1]")
        _require("animate_photo_share", self.animate_photo_share, 0 <= self.animate_photo_share <= 1, "in [0, 1]")
        _require("clip_steps", self.clip_steps, bool(self.clip_steps) and min(self.clip_steps) >= 1,
                 "a non-empty list of frame steps >= 1")
        _require("rerender_share", self.rerender_share, 0 <= self.rerender_share <= 1, "in [0, 1]")
        if self.animate_share + self.rerender_share > 1:
            raise ConfigError("animate_share + rerender_share must be at most 1 (the rest are self-blended clips)")
        if self.rerender_share > 0 and self.rerender_decoders is None:
            raise ConfigError("rerender_share > 0 needs rerender_decoders: a folder of auto-encoders made by "
                              "`python scripts/train_upsamplers.py --store CACHE_DIR --out FOLDER`")
        if self.animate_share > 0 and not self.sbi:
            raise ConfigError("animate_share needs sbi: true (animated stills are made from the same real videos)")
        if not self.sbi and not self.real_fakes:
            raise ConfigError("nothing to train on: sbi is false and real_fakes is empty; turn one on")
        if self.schedule not in ("cosine", "plateau"):
            close = difflib.get_close_matches(self.schedule, ["cosine", "plateau"], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"schedule must be 'cosine' or 'plateau', got {self.schedule!r}{hint}")
        from facetrust.training.augment import AugmentConfig

        AugmentConfig(policy=self.augment, clahe=self.clahe)  # ConfigError with a suggestion when unknown
        if self.tracking not in ("mlflow", "none"):
            raise ConfigError(f"tracking must be 'mlflow' or 'none', got {self.tracking!r}")
        if self.init_from is not None and self.init_from.suffix != ".json":
            raise ConfigError(f"init_from must be a detector spec (.json) written by facetrust train, got {self.init_from}")
        # imported here: the registry pulls in torch and timm, and importing this module must stay light
        from facetrust.models import architecture_info

        info = architecture_info(self.architecture)  # UnknownNameError (a ConfigError) listing close names
        if info.input == "clip" and self.sbi_decoder_share > 0:
            raise ConfigError("sbi_decoder_share applies to frame models; clip self-blends have no decoder family")
        if info.input == "clip" and self.sbi_time_shift_share > 0:
            raise ConfigError("sbi_time_shift_share applies to frame models; clip self-blends keep their own frames")
        if info.input != "clip" and self.rerender_share > 0:
            raise ConfigError(f"rerender_share trains clip models; {self.architecture!r} scores single frames")
        if info.input != "clip" and self.animate_share > 0:
            raise ConfigError(f"animate_share trains clip models; {self.architecture!r} scores single frames")
        if info.input == "clip" and self.frozen_blocks:
            raise ConfigError(
                f"frozen_blocks={self.frozen_blocks} applies to EfficientNet frame models; {self.architecture!r} "
                "is a clip model: set frozen_blocks=0"
            )

    @property
    def sbi_config(self) -> SbiConfig:
        """The self-blend alterations of this run (the families of ``facetrust.synthesis.sbi``)."""
        from facetrust.synthesis.sbi import SbiConfig

        return SbiConfig(lower_face_share=self.sbi_lower_face_share, resample_share=self.sbi_resample_share,
                         decoder_share=self.sbi_decoder_share, restore_share=self.sbi_restore_share)

    @property
    def degrade_config(self) -> DegradeConfig:
        """The codec, resize, blur and noise degradations applied alike to both classes of this run."""
        from facetrust.synthesis.degrade import DegradeConfig

        return DegradeConfig(h264_inter_share=self.h264_inter_share, downscale_p=self.downscale_p,
                             downscale_range=(self.downscale_min, DegradeConfig.downscale_range[1]))

    @property
    def clip_renderer(self) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
        """What re-renders clips for the ``rerender_share`` family (None when that family is off)."""
        return _decoder_renderer(self.rerender_share, self.rerender_decoders)

    @property
    def sbi_renderer(self) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
        """What rebuilds the source of decoder-family self-blends (None when that family is off)."""
        return _decoder_renderer(self.sbi_decoder_share, self.sbi_decoders)

    @property
    def stream_seed(self) -> int:
        """The seed of what training draws (``train_seed``, else ``seed``)."""
        return self.seed if self.train_seed is None else self.train_seed

    @property
    def is_clip(self) -> bool:
        """Whether the architecture takes clips ``(B, T, 3, H, W)`` rather than single crops."""
        from facetrust.models import architecture_info

        return architecture_info(self.architecture).input == "clip"
