"""Fit an ensemble's combination and decision rules on held-out media that none of its members trained on.

The held-out set mixes what each member is for: real videos of unseen identities against self-blended copies
of the same videos (every frame blended, as a face swap would be), and real photos against whole-face
GAN / diffusion images of unseen people (from ``facetrust extract`` folders). Every crop gets the same
codec-like degradations whatever its class. Then:

- ``max`` (the default): each member is recalibrated on its own kind of fakes (a one-feature logistic
  regression of reals against the fake sources named for it: the blend member on self-blended videos, the
  whole-face member on GAN / diffusion / auto-encoder faces), and the ensemble takes the largest recalibrated
  logit: a face is as suspicious as its most alarmed member, and a member that cannot see a kind of fake
  never vetoes the one that can;
- or ``stacking``: a logistic regression on the members' per-crop logits (:func:`fit_stacking`), which lets
  a confident "real" from one member cancel the other;
- either way each item weighs the same and each class half of the total;
- the frame rule (threshold, UNCERTAIN band) on the ensemble's per-crop probabilities, the track rule on
  per-video means (:mod:`facetrust.training.calibrate`);
- out-of-fold numbers: the items are split in two halves by identity group, each half is scored by an
  ensemble fitted on the other one, so the reported false-positive rate on held-out real video was never
  seen by the rule that produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.models.ensemble import EnsembleSpec, combine, fit_stacking
from facetrust.synthesis.animate import animate_still
from facetrust.synthesis.degrade import DegradeConfig, degrade
from facetrust.synthesis.sbi import SbiConfig, self_blend
from facetrust.training.calibrate import binary_metrics, calibrate_tracks, threshold_and_band
from facetrust.training.prepare import CropStore, centre_cut
from facetrust.training.sources import ExtractedCrops

logger = logging.getLogger(__name__)


@dataclass
class HeldOutItem:
    """One held-out image or video: its face crops (uint8 RGB, margin of the detectors' crop), label and kind."""

    key: str  # the media path (a self-blended copy gets a "#self-blend" suffix)
    label: int  # 0 real, 1 fake
    kind: str  # "video" | "image"
    source: str  # e.g. "real video", "self-blended video", "FLUX.1-dev+LoRA"
    group: str  # identity group: the two halves of the out-of-fold check never share one
    crops: list[np.ndarray] = field(repr=False)


def self_blended_videos(
    store: CropStore, *, crop_size: int = 224, frames_per_video: int = 16, seed: int = 0,
    degradations: DegradeConfig | None = None, lower_face: bool = False,
) -> list[HeldOutItem]:
    """Each held-out real video of a self-blend crop store, as itself (real) and with every sampled frame
    self-blended (fake). The store's crops are cut to ``crop_size`` around the face, which gives the margin
    the store was prepared for (``store_size / crop_size`` × its recorded margin = the detectors' margin).
    ``lower_face`` adds a third copy blended through a jaw/mouth mask only ("lower-face self-blended video",
    as lip-sync tools paste), drawn from its own random stream: the first two are the same with or without."""
    degradations = degradations or DegradeConfig()
    videos: dict[str, list[int]] = {}
    for i in store.indices("holdout", kind="video"):
        videos.setdefault(store.rows[int(i)]["path"], []).append(int(i))
    items: list[HeldOutItem] = []
    for n, (path, rows) in enumerate(sorted(videos.items())):
        rng = np.random.default_rng([seed, n])
        picked = [rows[int(k)] for k in np.linspace(0, len(rows) - 1, min(frames_per_video, len(rows))).round()]
        real, fake = [], []
        for row in picked:
            image = np.array(store.images[row])
            original, blended, _ = self_blend(image, store.landmarks[row], rng, SbiConfig())
            real.append(degrade(centre_cut(original, crop_size), rng, degradations))
            fake.append(degrade(centre_cut(blended, crop_size), rng, degradations))
        group = store.rows[picked[0]]["group"]
        items.append(HeldOutItem(path, 0, "video", "real video", group, real))
        items.append(HeldOutItem(f"{path}#self-blend", 1, "video", "self-blended video", group, fake))
        if lower_face:
            lower_rng, mouth = np.random.default_rng([seed, n, 1]), SbiConfig(lower_face_share=1.0)
            lower = [degrade(centre_cut(self_blend(np.array(store.images[row]), store.landmarks[row], lower_rng,
                                                    mouth)[1], crop_size), lower_rng, degradations)
                     for row in picked]
            items.append(HeldOutItem(f"{path}#lower-face-blend", 1, "video", "lower-face self-blended video", group,
                                     lower))
    return items


def animated_still_videos(
    store: CropStore, *, crop_size: int = 224, frames_per_video: int = 16, seed: int = 0,
    photo_share: float = 0.3, degradations: DegradeConfig | None = None,
) -> list[HeldOutItem]:
    """Each held-out real video of a crop store animated as a still (:func:`animate_still`): one of its frames,
    or with probability ``photo_share`` a held-out photo of the store, bent along the video's landmark track
    (``frames_per_video`` evenly spaced frames). Fakes only: the real videos are those of
    :func:`self_blended_videos`. Cut and degraded the same way."""
    degradations = degradations or DegradeConfig()
    videos: dict[str, list[int]] = {}
    for i in store.indices("holdout", kind="video"):
        videos.setdefault(store.rows[int(i)]["path"], []).append(int(i))
    photos = store.indices("holdout", kind="image")
    items: list[HeldOutItem] = []
    for n, (path, rows) in enumerate(sorted(videos.items())):
        rng = np.random.default_rng([seed, 11, n])
        picked = [rows[int(k)] for k in np.linspace(0, len(rows) - 1, min(frames_per_video, len(rows))).round()]
        real = [np.array(store.images[row]) for row in picked]
        track = store.landmarks[picked]
        if len(photos) and rng.random() < photo_share:
            photo = int(photos[int(rng.integers(len(photos)))])
            frames = animate_still(np.array(store.images[photo]), store.landmarks[photo], track, rng)
            source = "animated photo"
        else:
            reference = int(rng.integers(len(picked)))
            frames = animate_still(real[reference], track[reference], track, rng, driving_frames=real,
                                   reference=reference)
            source = "animated still video"
        group = store.rows[picked[0]]["group"]
        crops = [degrade(centre_cut(frame, crop_size), rng, degradations) for frame in frames]
        items.append(HeldOutItem(f"{path}#animated", 1, "video", source, group, crops))
    return items


def extracted_items(
    folder: ExtractedCrops, *, split: str = "val", kind: str | None = "image", crop_size: int = 224,
    margin: float = 1.3, seed: int = 0, degradations: DegradeConfig | None = None, max_crops: int | None = None,
) -> list[HeldOutItem]:
    """The ``split`` items of a ``facetrust extract`` folder (``kind`` only, None = all), one entry per item
    with at most ``max_crops`` evenly spaced crops, recut to ``margin`` at ``crop_size`` and degraded like
    :func:`self_blended_videos`."""
    import cv2

    degradations = degradations or DegradeConfig()
    extracted_margin = float(folder.margin)
    if extracted_margin < margin:
        raise ConfigError(f"{folder.directory} was extracted with margin {extracted_margin}, less than {margin}")
    by_item: dict[str, list[int]] = {}
    for i in folder.indices(split, kind=kind):
        by_item.setdefault(folder.rows[int(i)]["item"], []).append(int(i))
    items: list[HeldOutItem] = []
    for n, (_key, rows) in enumerate(sorted(by_item.items())):
        rng = np.random.default_rng([seed, 7, n])
        if max_crops is not None and len(rows) > max_crops:
            rows = [rows[int(k)] for k in np.linspace(0, len(rows) - 1, max_crops).round()]
        crops = []
        for row in rows:
            image = folder.load(row)
            side = int(round(image.shape[0] * margin / extracted_margin))
            cut = cv2.resize(centre_cut(image, side), (crop_size, crop_size), interpolation=cv2.INTER_AREA)
            crops.append(degrade(cut, rng, degradations))
        first = folder.rows[rows[0]]
        label = int(folder.labels[rows[0]])
        source = first["method"] if label == 1 else f"real {first['kind']}"
        items.append(HeldOutItem(first["path"], label, first["kind"], source, folder.groups[rows[0]], crops))
    return items


def member_probabilities(members: Sequence[Any], items: Sequence[HeldOutItem], *, batch_size: int = 16,
                         abstain: bool = False) -> list[np.ndarray]:
    """Per item, an ``(n_crops, n_members)`` array of each member's fake probability (each member scores the
    item's crops as one track, so clip members see them in order). With ``abstain`` (a ``max`` ensemble with
    frame members), clip members give NaN for items shorter than their clip, as
    :meth:`~facetrust.models.ensemble.EnsembleDetector.abstains` has them do at detection."""
    tracks = [item.crops for item in items]
    any_frame_member = any(getattr(m.spec, "clip_length", None) is None for m in members)
    per_member = []
    for member in members:
        clip_length = getattr(member.spec, "clip_length", None)
        skip = {i for i, track in enumerate(tracks)
                if abstain and any_frame_member and clip_length is not None and len(track) < clip_length}
        scored = [i for i in range(len(tracks)) if i not in skip]
        probs = member.predict_tracks([tracks[i] for i in scored], batch_size=batch_size) if scored else []
        per_track = [np.full(len(track), np.nan, np.float32) for track in tracks]
        for i, p in zip(scored, probs, strict=True):
            per_track[i] = p
        per_member.append(per_track)
    return [np.stack([probs[i] for probs in per_member], axis=1) for i in range(len(items))]


def _item_weights(labels: np.ndarray, probs: Sequence[np.ndarray]) -> np.ndarray:
    """Per crop: every item weighs the same (a video is not 16 photos) and each class sums to half the number
    of items (the usual scale for a logistic regression with C = 1)."""
    weights = np.concatenate([np.full(len(p), 1.0 / len(p)) for p in probs])
    for label in (0, 1):
        weights[labels == label] *= len(probs) / 2 / weights[labels == label].sum()
    return weights


def _fit(spec: EnsembleSpec, items: Sequence[HeldOutItem], probs: Sequence[np.ndarray], method: str = "max",
         member_fakes: Sequence[Collection[str]] | None = None,
         fixed: Mapping[int, tuple[float, float]] | None = None, rules: EnsembleSpec | None = None) -> EnsembleSpec:
    """``spec`` with its combination (``max`` or ``stacking``), frame rule and track rule fitted on ``items``.
    ``member_fakes[i]``: the fake sources member ``i`` is recalibrated on (``max``; None = every fake).
    ``fixed[i]``: the (scale, offset) member ``i`` keeps instead of being recalibrated (``max`` only).
    ``rules``: a spec whose frame and track rules are kept instead of fitted."""
    labels = np.concatenate([np.full(len(p), item.label) for item, p in zip(items, probs, strict=True)])
    stacked = np.concatenate(probs)
    weights = _item_weights(labels, probs)
    if method == "stacking":
        coef, intercept = fit_stacking(stacked, labels, sample_weight=weights)
        fitted = replace(spec, method="stacking", coef=coef, intercept=intercept, weights=None, offsets=None)
    elif method == "max":
        scales, offsets = [], []
        for m in range(stacked.shape[1]):
            if fixed and m in fixed:  # a member whose calibration was fitted before, on its own held-out set
                scales.append(float(fixed[m][0]))
                offsets.append(float(fixed[m][1]))
                continue
            # the reals, and the fakes this member is meant to see
            chosen = [i for i, item in enumerate(items)
                      if (item.label == 0 or member_fakes is None or item.source in member_fakes[m])
                      and not np.isnan(probs[i][:, m]).any()]  # items the member abstained on: not its to fit
            if all(items[i].label == 0 for i in chosen):
                raise ConfigError(f"no held-out fake of the sources named for member {m + 1}: "
                                  f"{sorted(member_fakes[m]) if member_fakes else []}")
            own_labels = np.concatenate([np.full(len(probs[i]), items[i].label) for i in chosen])
            own_probs = np.concatenate([probs[i][:, m] for i in chosen])[:, None]
            (scale,), offset = fit_stacking(own_probs, own_labels,
                                            sample_weight=_item_weights(own_labels, [probs[i] for i in chosen]))
            if scale <= 0:
                raise ConfigError(f"member {m + 1} ranks its own held-out fakes below the reals (scale {scale})")
            scales.append(scale)
            offsets.append(offset)
        fitted = replace(spec, method="max", coef=tuple(scales), offsets=tuple(offsets), intercept=0.0,
                         weights=None)
    else:
        raise ConfigError(f"fit method must be 'max' or 'stacking', got {method!r}")
    if rules is not None:
        return replace(fitted, threshold=rules.threshold, uncertain_band=rules.uncertain_band,
                       track_threshold=rules.track_threshold, track_uncertain_band=rules.track_uncertain_band,
                       track_min_frames=rules.track_min_frames)
    crop_p = combine(fitted, stacked)
    threshold, band = threshold_and_band(crop_p, labels, sample_weight=weights)
    fitted = replace(fitted, threshold=threshold, uncertain_band=band)
    means = np.array([float(combine(fitted, p).mean()) for p in probs])
    videos = np.array([item.kind == "video" for item in items])
    video_labels = np.array([item.label for item in items])[videos]
    if len(set(video_labels.tolist())) == 2:
        track_threshold, track_band = calibrate_tracks(means[videos][video_labels == 0], means[videos][video_labels == 1])
        fitted = replace(fitted, track_threshold=track_threshold, track_uncertain_band=track_band)
    return fitted


def _label(band: tuple[float, float], p: float) -> str:
    if p >= band[1]:
        return "FAKE"
    return "REAL" if p < band[0] else "UNCERTAIN"


def held_out_verdict(spec: EnsembleSpec, probs: np.ndarray, kind: str) -> tuple[float, str]:
    """The mean ensemble probability of one held-out item's ``(frames, members)`` probabilities and its verdict
    under ``spec``'s rules (the track rule for videos long enough for it)."""
    p = float(combine(spec, probs).mean())
    if kind == "video" and spec.track_threshold is not None and len(probs) >= spec.track_min_frames:
        return p, _label(spec.track_uncertain_band, p)  # type: ignore[arg-type]
    return p, _label(spec.uncertain_band, p)


def _auc(p: np.ndarray, labels: np.ndarray) -> float | None:
    """AUC over the items a member scored (None where it abstained on all of one class)."""
    scored = ~np.isnan(p)
    if len(set(labels[scored].tolist())) < 2:
        return None
    return round(float(binary_metrics(p[scored], labels[scored], 0.5)["auc"]), 4)


def _summary(items: Sequence[HeldOutItem], item_p: np.ndarray, verdicts: Sequence[str],
             member_p: np.ndarray, member_names: Sequence[str]) -> dict[str, object]:
    """AUC of the ensemble and of each member per fake source against the reals of the same kind, and the
    verdict counts of every source."""
    labels = np.array([i.label for i in items])
    kinds = np.array([i.kind for i in items])
    sources = np.array([i.source for i in items])
    out: dict[str, object] = {"items": len(items), "by_source": {}}
    for source in sorted(set(sources.tolist())):
        chosen = sources == source
        entry: dict[str, object] = {"n": int(chosen.sum()),
                                    "verdicts": {v: int(sum(1 for c, w in zip(chosen, verdicts, strict=True)
                                                            if c and w == v)) for v in ("REAL", "UNCERTAIN", "FAKE")},
                                    "mean_p": round(float(item_p[chosen].mean()), 4)}
        if labels[chosen][0] == 1:
            reals = (labels == 0) & (kinds == kinds[chosen][0])
            both = chosen | reals
            entry["auc"] = round(float(binary_metrics(item_p[both], labels[both], 0.5)["auc"]), 4)
            entry["member_auc"] = {name: _auc(member_p[both, m], labels[both]) for m, name in enumerate(member_names)}
        out["by_source"][source] = entry  # type: ignore[index]
    out["auc_all"] = round(float(binary_metrics(item_p, labels, 0.5)["auc"]), 4)
    return out


def fit_ensemble(
    spec: EnsembleSpec, members: Sequence[Any], items: Sequence[HeldOutItem], *, method: str = "max",
    member_fakes: Sequence[Collection[str]] | None = None, seed: int = 0,
    progress: Callable[[str], None] | None = None, fixed: Mapping[int, tuple[float, float]] | None = None,
    rules: EnsembleSpec | None = None,
) -> tuple[EnsembleSpec, dict[str, object]]:
    """Fit ``spec`` (its members already loaded as ``members``) on ``items`` with ``method`` (``max`` or
    ``stacking``; ``member_fakes``, ``fixed`` and ``rules`` as in ``_fit``); returns the fitted spec and a report:
    in-sample and out-of-fold (2 halves by identity group) numbers per source."""
    if len(members) != len(spec.members):
        raise ConfigError(f"{spec.name}: {len(spec.members)} members named, {len(members)} given")
    labels = {item.label for item in items}
    if labels != {0, 1}:
        raise ConfigError("fitting an ensemble needs held-out items of both classes")
    names = [m.spec.name for m in members]
    if progress:
        progress(f"scoring {len(items)} held-out items with {len(members)} members")
    probs = member_probabilities(members, items, abstain=method == "max")
    fitted = _fit(spec, items, probs, method, member_fakes, fixed, rules)
    member_means = np.array([p.mean(axis=0) for p in probs])
    in_sample = [held_out_verdict(fitted, p, item.kind) for item, p in zip(items, probs, strict=True)]
    report: dict[str, object] = {
        "members": names,
        "in_sample": _summary(items, np.array([p for p, _ in in_sample]), [v for _, v in in_sample],
                              member_means, names),
    }
    # out of fold: halves by group, each scored by the ensemble fitted on the other half
    groups = sorted({item.group for item in items})
    order = np.random.default_rng(seed).permutation(len(groups))
    half = {groups[k]: int(j % 2) for j, k in enumerate(order)}
    fold = np.array([half[item.group] for item in items])
    oof_p = np.zeros(len(items))
    oof_v = [""] * len(items)
    for k in (0, 1):
        train = [i for i in range(len(items)) if fold[i] != k]
        if {items[i].label for i in train} != {0, 1}:
            raise ConfigError("an out-of-fold half lacks one class: give more held-out items")
        fold_spec = _fit(spec, [items[i] for i in train], [probs[i] for i in train], method, member_fakes, fixed,
                         rules)
        for i in np.flatnonzero(fold == k):
            oof_p[i], oof_v[i] = held_out_verdict(fold_spec, probs[i], items[i].kind)
    report["out_of_fold"] = _summary(items, oof_p, oof_v, member_means, names)
    report["per_item"] = [
        {"key": item.key, "label": item.label, "kind": item.kind, "source": item.source, "group": item.group,
         "frames": len(item.crops), "p": round(float(in_sample[i][0]), 4), "verdict": in_sample[i][1],
         "p_out_of_fold": round(float(oof_p[i]), 4), "verdict_out_of_fold": oof_v[i],
         "members": {name: None if np.isnan(member_means[i, m]) else round(float(member_means[i, m]), 4)
                     for m, name in enumerate(names)}}
        for i, item in enumerate(items)
    ]
    return fitted, report


def load_held_out(
    store_dir: Path | None, extracted: Sequence[Path], *, fakes: Sequence[Path] = (), crop_size: int = 224,
    margin: float = 1.3, frames_per_video: int = 16, seed: int = 0, holdout_fraction: float = 0.15,
    split_seed: int = 0, degradations: DegradeConfig | None = None, animated: bool = False,
    lower_face: bool = False,
) -> list[HeldOutItem]:
    """Held-out items from a self-blend crop store (its held-out videos, real and self-blended), from
    ``facetrust extract`` folders (their ``val`` images) and from folders of made fakes (``fakes``: their
    ``val`` fakes, videos included, at most ``frames_per_video`` crops each). Rows of an extract folder without
    a split get the one training gave them (``holdout_fraction``, ``split_seed`` of the training config).
    ``animated`` adds the store's held-out videos animated as stills (:func:`animated_still_videos`),
    ``lower_face`` their lower-face self-blended copies (:func:`self_blended_videos`).
    ``degradations`` (default: training's) are drawn for every crop of every class alike."""
    items: list[HeldOutItem] = []
    if store_dir is not None:
        store = CropStore.open(Path(store_dir))
        items += self_blended_videos(store, crop_size=crop_size, frames_per_video=frames_per_video, seed=seed,
                                     degradations=degradations, lower_face=lower_face)
        if animated:
            items += animated_still_videos(store, crop_size=crop_size, frames_per_video=frames_per_video,
                                           seed=seed, degradations=degradations)
    for directory, only_fakes in [*((d, False) for d in extracted), *((d, True) for d in fakes)]:
        folder = ExtractedCrops.open(Path(directory))
        if any(split == "" for split in folder.splits):
            folder = folder.with_splits((1 - holdout_fraction, holdout_fraction), seed=split_seed,
                                        names=("train", "val"))
        found = extracted_items(folder, kind=None if only_fakes else "image", crop_size=crop_size, margin=margin,
                                seed=seed, max_crops=frames_per_video, degradations=degradations)
        items += [item for item in found if item.label == 1 or not only_fakes]
    return items


__all__ = ["HeldOutItem", "animated_still_videos", "extracted_items", "fit_ensemble", "held_out_verdict", "load_held_out",
           "member_probabilities",
           "self_blended_videos"]
