"""Make "generator trace" fakes: real crops of an extract folder passed through up-sampling auto-encoders.

    python scripts/make_upsampler_fakes.py data_cache/wholeface data_cache/wholeface_ae
    python scripts/make_upsampler_fakes.py data_cache/wholeface data_cache/wholeface_detail \
        --init-from data_cache/upsamplers --detail-gain 1.5 --seconds-per-model 90 --lr 5e-4 --seed 1 \
        --save-models data_cache/upsamplers_detail

Trains one small auto-encoder per up-sampling kind (transposed convolution, nearest, bilinear, pixel
shuffle) on real crops of the source folder's train split, then rebuilds real crops of every split with a
randomly chosen one: ``--frames-per-video`` crops of each real video and every real photo. The output is an
extract folder (``crops/``, ``index.csv``, ``extract.json``) whose fakes keep the item's group and split, so
a reconstruction never lands on the other side of the split from its original; use it in ``real_fakes``.

``--detail-gain G`` asks each auto-encoder for G times the fine detail of its input as well
(:func:`facetrust.synthesis.upsampler.train_upsampler`): the decoders then invent detail, so their faces are
as sharp as the camera's or sharper, as generative decoders render them, rather than smoother.
``--init-from FOLDER`` continues the auto-encoders saved there (``scripts/train_upsamplers.py``) instead of
training new ones (``--steps 0``: uses them as they are); ``--save-models FOLDER`` keeps the ones used.
``--mix LOW HIGH`` mixes each reconstruction with its original, ``a * rebuilt + (1 - a) * original`` with ``a``
drawn per crop from [LOW, HIGH]: fainter traces, as a generator's are after resizing and a video codec.
Splits missing in the source are filled as training fills them (``--holdout-fraction``, ``--split-seed``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from facetrust.extract import INDEX_COLUMNS
from facetrust.synthesis.upsampler import (
    UPSAMPLING_KINDS,
    load_upsamplers,
    psnr,
    reconstruct,
    save_upsampler,
    train_upsampler,
)
from facetrust.training.sources import ExtractedCrops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames-per-video", type=int, default=12)
    parser.add_argument("--train-images", type=int, default=800)
    parser.add_argument("--seconds-per-model", type=float, default=150.0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--holdout-fraction", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detail-gain", type=float, default=None, help="ask for G times the input's fine detail")
    parser.add_argument("--detail-weight", type=float, default=0.05)
    parser.add_argument("--lr", type=float, default=2e-3, help="use ~5e-4 with --init-from")
    parser.add_argument("--init-from", type=Path, default=None, help="continue the auto-encoders saved here")
    parser.add_argument("--save-models", type=Path, default=None, help="save the auto-encoders used here")
    parser.add_argument("--mix", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="mix each reconstruction with its original, weight drawn from [LOW, HIGH]")
    parser.add_argument("--item-suffix", default=None, help="suffix of the fake items (default ~ae or ~aed)")
    parser.add_argument("--method-prefix", default=None,
                        help="method name of the fakes, before the kind (default autoencoder or decoder-detail)")
    args = parser.parse_args()
    if args.steps == 0 and args.init_from is None:
        parser.error(f"--steps 0 needs --init-from with every kind: {', '.join(UPSAMPLING_KINDS)}")
    if args.mix and not 0 < args.mix[0] <= args.mix[1] <= 1:
        parser.error("--mix needs 0 < LOW <= HIGH <= 1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rng = np.random.default_rng(args.seed)

    folder = ExtractedCrops.open(args.source)
    if any(s == "" for s in folder.splits):
        folder = folder.with_splits((1 - args.holdout_fraction, args.holdout_fraction), seed=args.split_seed,
                                    names=("train", "val"))
    reals = np.flatnonzero(folder.labels == 0)
    train_rows = [int(i) for i in reals if folder.splits[int(i)] == "train"]
    picked = rng.choice(train_rows, min(args.train_images, len(train_rows)), replace=False)
    train_images = [folder.load(int(i)) for i in picked] if args.steps > 0 else []

    start = {m.kind: m for m in load_upsamplers(args.init_from)} if args.init_from else {}
    if args.steps == 0 and set(start) != set(UPSAMPLING_KINDS):
        parser.error(f"--steps 0 needs --init-from with every kind: {', '.join(UPSAMPLING_KINDS)}")
    models, stats = {}, {}
    for kind in UPSAMPLING_KINDS:
        if args.steps == 0:
            models[kind], stats[kind] = start[kind], {"steps": 0}
            continue
        models[kind], stats[kind] = train_upsampler(
            train_images, kind, steps=args.steps, seed=args.seed, max_seconds=args.seconds_per_model, lr=args.lr,
            detail_gain=args.detail_gain, detail_weight=args.detail_weight, model=start.get(kind))
        logging.info("%s: %s", kind, stats[kind])
        if args.save_models:
            save_upsampler(models[kind], args.save_models / kind, stats[kind])
    method_prefix = args.method_prefix or ("decoder-detail" if args.detail_gain else "autoencoder")
    item_suffix = args.item_suffix or ("~aed" if args.detail_gain else "~ae")

    # which real crops to rebuild: every photo, frames_per_video evenly spaced frames of each video
    by_item: dict[str, list[int]] = {}
    for i in reals:
        by_item.setdefault(folder.rows[int(i)]["item"], []).append(int(i))
    chosen: list[int] = []
    for rows in by_item.values():
        if folder.rows[rows[0]]["kind"] == "video" and len(rows) > args.frames_per_video:
            rows = [rows[int(k)] for k in np.linspace(0, len(rows) - 1, args.frames_per_video).round()]
        chosen += rows

    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "crops").mkdir(parents=True)
    kinds = {item: UPSAMPLING_KINDS[int(rng.integers(len(UPSAMPLING_KINDS)))] for item in by_item}
    quality = json.loads((args.source / "extract.json").read_text()).get("options", {}).get("jpeg_quality", 95)
    index_rows, scores = [], {k: [] for k in UPSAMPLING_KINDS}
    for kind in UPSAMPLING_KINDS:
        rows = [i for i in chosen if kinds[folder.rows[i]["item"]] == kind]
        for first in range(0, len(rows), 32):
            batch = rows[first : first + 32]
            originals = [folder.load(i) for i in batch]
            for i, original, rebuilt in zip(batch, originals, reconstruct(models[kind], originals), strict=True):
                if args.mix:
                    weight = float(rng.uniform(*args.mix))
                    rebuilt = np.clip(weight * rebuilt.astype(np.float32) + (1 - weight) * original, 0, 255)
                    rebuilt = rebuilt.round().astype(np.uint8)
                source = folder.rows[i]
                item = f"{source['item']}{item_suffix}"
                crop = f"crops/{item}/{Path(source['crop']).name}"
                (args.out / crop).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(args.out / crop), cv2.cvtColor(rebuilt, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
                scores[kind].append(psnr(original, rebuilt))
                index_rows.append({**{c: source[c] for c in INDEX_COLUMNS}, "item": item, "label": "fake",
                                   "method": f"{method_prefix}-{kind}", "group": folder.groups[i],
                                   "split": folder.splits[i], "crop": crop})
    with (args.out / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(index_rows)
    extract = json.loads((args.source / "extract.json").read_text())
    extract["upsampler_fakes"] = {"source": str(args.source), "models": stats,
                                  "psnr_db": {k: round(float(np.mean(v)), 2) for k, v in scores.items() if v},
                                  "frames_per_video": args.frames_per_video, "seed": args.seed,
                                  "detail_gain": args.detail_gain, "detail_weight": args.detail_weight,
                                  "mix": args.mix,
                                  "init_from": str(args.init_from) if args.init_from else None}
    (args.out / "extract.json").write_text(json.dumps(extract, indent=2) + "\n")
    print(f"{len(index_rows)} reconstructed crops in {args.out}: {json.dumps(extract['upsampler_fakes'])}")


if __name__ == "__main__":
    main()
