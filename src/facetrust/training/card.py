"""Write a detector's model card from its spec, its training metrics and (optionally) dev-set results.

Usage: ``python -m facetrust.training.card SPEC.json METRICS.json [--dev DEV.json [--dev-label TEXT]]
[--bench BENCH.json] --out CARD.md`` where ``DEV.json`` is the ``--json`` output of ``facetrust detect`` on a
folder with ``real/`` and ``fake/`` sub-folders, and ``--dev-label`` names that folder in the card (e.g.
``../shared/data/dev``).

Every fact in the card comes from these files: the spec (architecture, crop, calibration, checksum and the
training provenance: command, config, device), the metrics and the dev results. Nothing about a particular
run is written here.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from facetrust.errors import FacetrustError
from facetrust.models.imagenet import IMAGENET_PACKAGES

SCORED_VERDICTS = ("REAL", "FAKE", "UNCERTAIN")

KNOWN_GENERATORS: dict[str, str] = {
    "ghost": "GHOST face swap",
    "pd-fgc": "PD-FGC talking head",
    "dreamtalk": "DreamTalk talking head",
}
"""File-name keyword → generator, for fakes stored flat in ``fake/``; a sub-folder of ``fake/`` wins."""


def _label_of(path: str) -> int | None:
    parts = Path(path).parts
    if "fake" in parts:
        return 1
    if "real" in parts:
        return 0
    return None


def _generator_of(path: str) -> str:
    parts = Path(path).parts
    if "fake" in parts:
        last_fake = len(parts) - 1 - parts[::-1].index("fake")
        folders_below = parts[last_fake + 1 : -1]
        if folders_below:
            return folders_below[0]
    name = parts[-1].lower() if parts else ""
    for key, label in KNOWN_GENERATORS.items():
        if key in name:
            return label
    return "other"


def _sort_label(path: str) -> int:
    label = _label_of(path)
    return 2 if label is None else label  # reals, then fakes, then unlabelled entries


def _is_scored(result: Mapping[str, Any]) -> bool:
    return result.get("verdict") in SCORED_VERDICTS and result.get("fake_probability") is not None


def timm_name(architecture: str) -> str:
    """The timm model behind a registered architecture (its own name for facetrust's own modules)."""
    from facetrust.models import architecture_info

    try:
        return architecture_info(architecture).timm_name or architecture
    except FacetrustError:
        return architecture


def dev_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate metrics over labelled results (entries whose path holds a ``real/`` or ``fake/`` folder).

    ``n_real`` / ``n_fake`` count every labelled entry; only entries with a REAL, FAKE or UNCERTAIN verdict and
    a probability are scored (errors and NO_FACE are counted in ``errors``, ``no_face`` and
    ``no_face_or_error``). AUC needs both classes among the scored entries; ``auc_per_generator`` compares
    all scored reals with each generator's scored fakes.
    """
    labelled = [(r, y) for r in results if (y := _label_of(r["path"])) is not None]
    scored = [(r, y) for r, y in labelled if _is_scored(r)]
    not_scored = [r for r, _ in labelled if not _is_scored(r)]
    labels = np.array([y for _, y in scored], dtype=int)
    probs = np.array([r["fake_probability"] for r, _ in scored], dtype=float)
    predicted_fake = np.array([r["verdict"] == "FAKE" for r, _ in scored], dtype=bool)
    frames = sorted({int(r["frames_sampled"]) for r, _ in scored if r.get("frames_sampled") is not None})
    summary: dict[str, Any] = {
        "entries": len(results),
        "unlabelled": len(results) - len(labelled),
        "n_real": sum(y == 0 for _, y in labelled),
        "n_fake": sum(y == 1 for _, y in labelled),
        "scored": len(scored),
        "scored_real": int(np.sum(labels == 0)),
        "scored_fake": int(np.sum(labels == 1)),
        "errors": sum(r.get("error") is not None for r in not_scored),
        "no_face": sum(r.get("verdict") == "NO_FACE" for r in not_scored),
        "no_face_or_error": len(not_scored),
        "real_called_fake": int(np.sum(predicted_fake & (labels == 0))),
        "fake_called_fake": int(np.sum(predicted_fake & (labels == 1))),
        "verdicts": {v: sum(r["verdict"] == v for r, _ in scored) for v in SCORED_VERDICTS},
        "frames_sampled": (frames[0], frames[-1]) if frames else None,
    }
    if len(set(labels.tolist())) == 2:
        summary["auc"] = round(float(roc_auc_score(labels, probs)), 3)
        generators = sorted({_generator_of(r["path"]) for r, y in scored if y == 1})
        summary["auc_per_generator"] = {}
        for generator in generators:
            mask = np.array([y == 0 or _generator_of(r["path"]) == generator for r, y in scored])
            summary["auc_per_generator"][generator] = round(float(roc_auc_score(labels[mask], probs[mask])), 3)
    return summary


_SUBSETS = {"holdout_animated_video": "video (animated stills)"}


def _percent(value: Any) -> str:
    try:
        return f"{float(value):.0%}"
    except (TypeError, ValueError):
        return "?"


def _range(values: Any) -> str:
    if isinstance(values, list | tuple) and len(values) == 2:
        return f"{values[0]}–{values[1]}"
    return str(values)


def _degradation_line(degradations: Mapping[str, Any] | None) -> str:
    if not degradations:
        return ("- Degradations on both classes: down/up-scaling, blur, noise, H.264 and JPEG re-encoding; "
                "random translation and horizontal flip.")
    return (
        "- Degradations on both classes (each with its own probability): down/up-scaling "
        f"(×{_range(degradations.get('downscale_range'))}), Gaussian and motion blur, noise, "
        f"**H.264 re-encoding at CRF {_range(degradations.get('h264_crf'))} (libx264 through PyAV)**, "
        f"JPEG {_range(degradations.get('jpeg_quality'))}; random translation and horizontal flip."
    )


def _count(value: Any) -> str:
    """A crop count, or the total (and fakes) of a ``{"real_fakes_train": n, "real_fakes_train_fake": k}`` dict."""
    if isinstance(value, Mapping):
        total = sum(v for k, v in value.items() if not k.endswith("_fake") and isinstance(v, int))
        fake = sum(v for k, v in value.items() if k.endswith("_fake") and isinstance(v, int))
        return f"{total} ({fake} fake)" if fake else str(total)
    return "?" if value is None else str(value)


def render_card(spec: dict[str, Any], metrics: dict[str, Any], dev: list[dict[str, Any]] | None,
                bench: dict[str, Any] | None = None, *, dev_label: str | None = None) -> str:
    """The model card as markdown. ``dev_label`` names the dev folder (default: "dev set")."""
    provenance = spec.get("provenance", {}) or {}
    cfg = provenance.get("config", {}) or {}
    cal = metrics.get("calibration", {})
    crops = metrics.get("crops", {})
    device = provenance.get("device") or "an unrecorded device"
    architecture = spec["architecture"]
    package = IMAGENET_PACKAGES.get(architecture)
    init = f"ImageNet init (`{package[1]}`, Apache-2.0)" if package else "ImageNet init"
    parent = provenance.get("init") or {}
    if parent.get("sha256"):  # a warm start: this run continued an earlier one
        init = (
            f"continued from `{parent.get('name')}` (sha256 `{str(parent['sha256'])[:12]}…`, "
            f"{parent.get('epochs_run')} epochs from {init}, spec `{parent.get('from')}`)"
        )
    holdout = cfg.get("holdout_fraction")
    train_share = 1 - float(holdout) if holdout is not None else None
    crop_recipe = provenance.get("crop_recipe") or {}
    face_detector = crop_recipe.get("face_detector") or "MTCNN (ONNX)"
    dev_named = f"`{dev_label}`, " if dev_label else ""
    summary = dev_summary(dev) if dev is not None else None
    sbi = bool(cfg.get("sbi", True))
    real_fakes = list(cfg.get("real_fakes") or [])
    by_method = metrics.get("holdout_real_fakes_by_method") or {}
    methods = ", ".join(by_method) or "the folders' fake methods"
    clip_length = spec.get("clip_length")
    animate_share = float(cfg.get("animate_share") or 0.0)
    if sbi and clip_length and animate_share > 0:
        what = ("that a face was altered by blending, or that it moves like one still image bent from frame to frame "
                "(one-shot talking-head animation)")
        fakes_line = (f"- Fakes, per clip of {clip_length} consecutive crops: {_percent(1 - animate_share)} temporally "
                      "consistent self-blends (one blend draw for the whole clip) and "
                      f"{_percent(animate_share)} animated stills (`facetrust.synthesis.animate`): one crop of the "
                      f"clip, or a photo of another person ({_percent(float(cfg.get('animate_photo_share') or 0))} "
                      "of them), bent along the clip's own landmark track by a thin-plate spline, some with the "
                      "real frames' mouth blended in. Clips cut with frame steps "
                      f"{', '.join(str(k) for k in cfg.get('clip_steps') or [1])} over the stored frames.")
        data_kind = "**real videos only** (the fakes are made from them)"
        versus = "fake"
    elif sbi:
        what = "that a face was altered by blending (face swap, partial blends)"
        fakes_line = ("- Fakes: self-blended images (Shiohara & Yamasaki, CVPR 2022) generated on the fly: colour, "
                      "sharpness, scale and position jitter of the face blended back through a randomly deformed, "
                      "eroded/dilated, blurred mask built from the landmarks."
                      + (f" Mixed with the labelled fakes of {', '.join(real_fakes)} ({methods})." if real_fakes else ""))
        data_kind = "**real faces only**" if not real_fakes else "real faces, self-blended, plus labelled real and fake crops"
        versus = "self-blended"
    else:
        what = f"that a face was generated or rebuilt as a whole (learned from: {methods})"
        fakes_line = (f"- Fakes: the labelled fake crops of {', '.join(real_fakes)} ({methods}), sampled so that "
                      "real and fake, and each fake method, weigh the same (no self-blending).")
        data_kind = "labelled real and fake crops"
        versus = "fake"
    data = provenance.get("data", "real media")
    lines = [
        f"# Model card: `{spec['name']}`",
        "",
        (f"A facetrust deepfake detector: a clip-level (temporal) classifier of {clip_length} consecutive face "
         f"crops of one person that outputs the probability {what}. Each crop's probability is the mean over the "
         "clips that cover it." if clip_length else
         f"A facetrust deepfake detector: a frame-level classifier of face crops that outputs the probability {what}."),
        "",
        "## At a glance",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{architecture}` (timm `{timm_name(architecture)}`), 1 fake logit |",
        f"| input | {spec['input_size']}×{spec['input_size']} RGB face crop, square, margin {spec['crop']['margin']}× the face box, mean {spec['mean']}, std {spec['std']} |",
        f"| output | sigmoid(logit / {spec['temperature']}) = calibrated fake probability |",
        f"| threshold | {spec['threshold']} (FAKE at or above the band's upper edge) |",
        f"| UNCERTAIN band | [{spec['uncertain_band'][0]}, {spec['uncertain_band'][1]}) |",
        *(
            [f"| track rule (people seen in ≥ {spec.get('track_min_frames', 8)} frames; applies to their mean "
             f"probability) | threshold {spec['track_threshold']}, UNCERTAIN band "
             f"[{spec['track_uncertain_band'][0]}, {spec['track_uncertain_band'][1]}) |"]
            if spec.get("track_threshold") is not None else []
        ),
        f"| weights | `{spec['weights_file']}`, fp16 safetensors |",
        f"| sha256 | `{spec['sha256']}` |",
        f"| licence | {spec.get('license')} |",
        "",
        "## Training recipe",
        "",
        f"- Command: `{provenance.get('command', '')}`.",
        *[f"  - {stage}" for stage in provenance.get("stages") or []],
        *([f"- Rerun the whole recipe: {provenance['rerun']}."] if provenance.get("rerun") else []),
        f"- Data: {data_kind}: {data.lstrip('; ')} (data folder `{cfg.get('data_root', '?')}`). "
        f"Identities (the manifest's `group`) are split {_percent(train_share)} train / {_percent(holdout)} held out "
        "(rows with their own split keep it): "
        + (f"{(metrics.get('data') or {}).get('sbi_train', '?')} training clips; "
           f"{_count(metrics.get('holdout_items'))} held-out clips (half real, half fake) cut from "
           f"{(metrics.get('data') or {}).get('sbi_holdout_crops', '?')} held-out crops." if clip_length else
           f"{crops.get('train', _count(metrics.get('data')))} training crops, "
           f"{crops.get('holdout', _count(metrics.get('holdout_items')))} held-out crops.")
        + (" The dev set below was not used for training or calibration." if dev is not None else ""),
        (f"- Crops: `{face_detector}` boxes and 5 landmarks, up to {cfg.get('image_limit_per_source')} photos per "
         f"source folder and {cfg.get('video_frames_per_clip')} frames per real video; stored at "
         f"{cfg.get('crop_store_size')} px so the central {spec['input_size']} px is the inference crop."
         if sbi else
         f"- Crops: those of `facetrust extract` (MTCNN boxes, margin {spec['crop']['margin']}), recut to the "
         f"{spec['input_size']} px input."),
        fakes_line,
        _degradation_line(provenance.get("degradations")),
        f"- Optimisation: {init}, "
        + (f"stem + first {cfg.get('frozen_blocks')} blocks frozen" if cfg.get("frozen_blocks") else "nothing frozen")
        + f", AdamW lr {cfg.get('lr')}, weight decay {cfg.get('weight_decay')}, "
        f"cosine schedule, batch {cfg.get('batch_size')} real + {cfg.get('batch_size')} fake, "
        f"{metrics.get('epochs_run')} epochs ({metrics.get('steps')} steps) in {metrics.get('train_seconds')} s "
        f"on {device}.",
        f"- Calibration on held-out identities ({crops.get('eval_pairs', cfg.get('eval_pairs'))} real crops and "
        f"{'their' if clip_length else 'their self-blended' if sbi else 'held-out'} fakes): "
        f"temperature {cal.get('temperature', 0):.3f}; threshold maximising balanced accuracy; UNCERTAIN band from the 5th "
        "percentile of fakes to the 95th percentile of reals.",
        "",
        f"## Held-out metrics (unseen identities, real vs {versus}, frame level)",
        "",
        "| subset | AUC | accuracy | FPR (real called fake) | TPR | mean p real | mean p fake |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("holdout_all", "holdout_image", "holdout_video", "holdout_animated_video"):
        m = metrics.get(key)
        if m:
            lines.append(
                f"| {_SUBSETS.get(key, key.removeprefix('holdout_'))} ({m['n_real']} real / {m['n_fake']} fake) | {m.get('auc', float('nan')):.3f} | "
                f"{m['accuracy']:.3f} | {m['fpr']:.3f} | {m['tpr']:.3f} | {m['mean_p_real']:.3f} | {m['mean_p_fake']:.3f} |"
            )
    for method, m in by_method.items():
        lines.append(
            f"| {method} ({m['n_real']} real / {m['n_fake']} fake) | {m.get('auc', float('nan')):.3f} | "
            f"{m['accuracy']:.3f} | {m['fpr']:.3f} | {m['tpr']:.3f} | {m['mean_p_real']:.3f} | {m['mean_p_fake']:.3f} |"
        )
    tracks = metrics.get("holdout_tracks") or {}
    if tracks:
        real_means, fake_means = tracks["real_video_means"], tracks["fake_video_means"]
        lines += [
            "",
            f"Track level ({len(real_means)} held-out real videos and {len(fake_means)} {versus} ones, "
            f"{tracks.get('frames', '?')} frames, each video's mean probability): real means "
            f"{min(real_means):.3f}–{max(real_means):.3f} (median {float(np.median(real_means)):.3f}), {versus} "
            f"means {min(fake_means):.3f}–{max(fake_means):.3f} (median {float(np.median(fake_means)):.3f}). "
            + (
                "The two groups do not overlap, so the track threshold sits midway and the gap between them is "
                "UNCERTAIN. "
                if np.quantile(real_means, 0.95) < np.quantile(fake_means, 0.05)
                else "The two groups overlap: the track threshold maximises balanced accuracy and the band spans "
                "the overlap. "
            )
            + f"Held-out real videos called FAKE by the track rule: {tracks['real_videos_called_fake']} of "
            f"{len(real_means)}; {versus} videos called FAKE: {tracks.get('fake_videos_called_fake', '?')} of "
            f"{len(fake_means)}. Caution: {len(real_means)} videos is a small sample, so the band edges move "
            "with the random degradation draws of the calibration.",
        ]
    if dev is not None and summary is not None:
        frames = summary["frames_sampled"]
        frames_text = "" if frames is None else (
            f" ({frames[0]} frames sampled per item)" if frames[0] == frames[1]
            else f" ({frames[0]}–{frames[1]} frames sampled per item)"
        )
        lines += [
            "",
            f"## Dev set ({dev_named}{summary['n_real']} real / {summary['n_fake']} fake): "
            "a sanity check, not a tuning signal",
            "",
            f"Scored with `facetrust detect`{frames_text}. "
            f"AUC **{summary.get('auc', 'n/a')}** over {summary['scored']} scored items; real items called FAKE: "
            f"{summary['real_called_fake']} of {summary['scored_real']} scored; fakes called FAKE: "
            f"{summary['fake_called_fake']} of {summary['scored_fake']} scored; verdicts {summary['verdicts']}; "
            f"not scored (no face or error): {summary['no_face_or_error']} (no face {summary['no_face']}, "
            f"error {summary['errors']}).",
            "",
            "AUC per fake generator (all reals vs that generator's fakes): "
            + (", ".join(f"{k} {v}" for k, v in summary.get("auc_per_generator", {}).items()) or "n/a"),
            "",
            "| item | truth | verdict | fake probability | people | frames |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(dev, key=lambda r: (_sort_label(r["path"]), r["path"])):
            truth = {0: "real", 1: "fake", None: "?"}[_label_of(r["path"])]
            p = r.get("fake_probability")
            error = r.get("error") or {}
            verdict = r.get("verdict") or f"error: {error.get('type', 'unknown')}"
            lines.append(f"| {Path(r['path']).name[-60:]} | {truth} | {verdict} | "
                         f"{'' if p is None else f'{p:.3f}'} | {len(r.get('people') or [])} | {r.get('frames_sampled', '')} |")
    minutes = metrics.get("train_seconds")
    budget = f"{float(minutes) / 60:.0f} min of training" if isinstance(minutes, int | float) else "its training"
    lines += [
        "",
        "## Limits (read before trusting a verdict)",
        "",
        ("- The model learned how faces change over a clip: blends, and one still bent along a real motion. "
         "Talking-head models that generate every frame afresh, and GAN or diffusion faces in photos, are not "
         "what it saw; it says nothing about a single photo (in an ensemble it abstains there)"
         if clip_length and animate_share > 0 else
         "- The model learned blending boundaries and colour mismatch. Whole-frame generators (talking-head "
         "animation, GAN and diffusion faces) leave no blending boundary; expect it to miss many of them"
         if sbi else
         f"- The model learned what its training fakes ({methods}) leave in a face. Other generators, and fakes "
         "whose traces were washed out by heavy re-encoding, may pass unseen")
        + (" (see the dev table)." if dev is not None else "."),
        "- It was trained on "
        + (f"{(metrics.get('data') or {}).get('sbi_train', '?')} clips" if clip_length
           else f"{crops.get('train', _count(metrics.get('data')))} crops")
        + f"{' of real faces' if sbi and not real_fakes else ''} ({budget} on {device}). "
        "False positives on unusual real video (heavy compression, extreme lighting, occlusion) are possible; "
        "the UNCERTAIN band exists for that.",
        "- Training data terms (CelebA, UTKFace, FFHQ, VoxCeleb, MEAD, LRS…) allow research and "
        "non-commercial use only; the weights inherit that restriction in practice.",
    ]
    if bench:
        lines += ["", "## Speed", "", "```json", json.dumps(bench, indent=2), "```"]
    return "\n".join(lines) + "\n"


def _dev_lines(dev: list[dict[str, Any]], dev_label: str | None) -> list[str]:
    summary = dev_summary(dev)
    named = f"`{dev_label}`, " if dev_label else ""
    return [
        f"## Dev set ({named}{summary['n_real']} real / {summary['n_fake']} fake): a sanity check, not a tuning signal",
        "",
        f"Scored with `facetrust detect`: AUC **{summary.get('auc', 'n/a')}** over {summary['scored']} items; real "
        f"items called FAKE: {summary['real_called_fake']} of {summary['scored_real']}; fakes called FAKE: "
        f"{summary['fake_called_fake']} of {summary['scored_fake']}; verdicts {summary['verdicts']}. AUC per fake "
        "generator (all reals vs that generator's fakes): "
        + (", ".join(f"{k} {v}" for k, v in summary.get("auc_per_generator", {}).items()) or "n/a") + ".",
        "",
    ]


def render_ensemble_card(ensemble: dict[str, Any], members: list[dict[str, Any]], report: dict[str, Any], *,
                         sha256: str | None = None, dev: list[dict[str, Any]] | None = None,
                         bench: dict[str, Any] | None = None, dev_label: str | None = None) -> str:
    """The model card of a fitted ensemble (its file's ``ensemble`` body, the members' specs and the report of
    :func:`facetrust.training.ensemble_fit.fit_ensemble`) as markdown."""
    roles = ensemble.get("roles") or [None] * len(members)
    names = [m["name"] for m in members]
    fit = (ensemble.get("provenance") or {}).get("fit", {})
    lines = [f"# Model card: `{ensemble['name']}` (ensemble)", "", ensemble.get("description", ""), "",
             "| member | role | architecture | sha256 | card |", "|---|---|---|---|---|"]
    for member, role in zip(members, roles, strict=True):
        lines.append(f"| `{member['name']}` | {role or '—'} | `{member['architecture']}` | `{member.get('sha256')}` | "
                     f"{member['name']}.md |")
    combination = f"coefficients {ensemble.get('coef')}"
    combination += (f", offsets {ensemble['offsets']}" if ensemble.get("offsets") is not None
                    else f", intercept {ensemble.get('intercept')}")
    lines += ["", f"- Combination `{ensemble['method']}`: {combination}."
              + (" Each member's logit is recalibrated on its own kind of held-out fakes; the largest one decides."
                 if ensemble["method"] == "max" else ""),
              f"- Frame rule: threshold {ensemble['threshold']}, UNCERTAIN band {ensemble['uncertain_band']}. Track rule "
              f"(people seen in ≥ {ensemble.get('track_min_frames')} frames, on their mean): threshold "
              f"{ensemble.get('track_threshold')}, band {ensemble.get('track_uncertain_band')}.",
              *([f"- sha256 (definition + members): `{sha256}`."] if sha256 else []),
              *([f"- Fitted with: `{fit['command']}`."] if fit.get("command") else []),
              *([f"- Member fakes: {fit['member_fakes']}."] if fit.get("member_fakes") else []),
              "", "## Held-out numbers", "",
              "Held-out media (see the fit command and docs/detection-quality.md for what each member did not "
              "train on). Out of fold: the items are split in two halves by identity group and each half is "
              "labelled by the ensemble fitted on the other half. Item = a video (its mean over the sampled "
              "frames) or a photo; AUC of each fake source against the reals of the same kind.", ""]
    for part in ("out_of_fold", "in_sample"):
        lines += [f"### {part.replace('_', ' ')}", "",
                  "| source | n | REAL | UNCERTAIN | FAKE | mean p | AUC | " + " | ".join(f"AUC {n}" for n in names) + " |",
                  "|---" * (7 + len(names)) + "|"]
        for source, entry in report[part]["by_source"].items():
            v = entry["verdicts"]
            member_auc = entry.get("member_auc", {})
            lines.append(f"| {source} | {entry['n']} | {v['REAL']} | {v['UNCERTAIN']} | {v['FAKE']} | "
                         f"{entry['mean_p']} | {entry.get('auc', '—')} | "
                         + " | ".join(str(member_auc.get(n) if member_auc.get(n) is not None else "—") for n in names) + " |")
        lines.append("")
    if dev is not None:
        lines += _dev_lines(dev, dev_label)
    lines += ["## Limits", "",
              "- The held-out fakes are self-blends, GAN / diffusion photos and auto-encoder reconstructions; "
              "in-the-wild deepfakes and generated talking heads may look different (see the dev numbers).",
              *([f"- Held-out set: {fit['caveat']}."] if fit.get("caveat") else []),
              "- Trained on research-only face data (see the members' cards).", ""]
    if bench:
        lines += ["## Speed", "", "```json", json.dumps(bench, indent=2), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a detector's model card (a single detector's, or an "
                                                 "ensemble's: then METRICS is its fit report).")
    parser.add_argument("spec", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--dev", type=Path, help="JSON output of `facetrust detect --json` on a real/ + fake/ folder")
    parser.add_argument("--dev-label", help="how the card names the dev folder, e.g. ../shared/data/dev")
    parser.add_argument("--bench", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    metrics = json.loads(args.metrics.read_text(encoding="utf-8"))
    dev = json.loads(args.dev.read_text(encoding="utf-8"))["results"] if args.dev else None
    bench = json.loads(args.bench.read_text(encoding="utf-8")) if args.bench else None
    if "ensemble" in spec:
        from facetrust.models import create_detector, resolve_detector

        body = spec["ensemble"]
        members = [json.loads(resolve_detector(m, weights_dir=args.spec.parent).read_text(encoding="utf-8"))
                   for m in body["members"]]
        sha256 = create_detector(args.spec, device="cpu").spec.sha256
        text = render_ensemble_card(body, members, metrics, sha256=sha256, dev=dev, bench=bench,
                                    dev_label=args.dev_label)
    else:
        text = render_card(spec, metrics, dev, bench, dev_label=args.dev_label)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
