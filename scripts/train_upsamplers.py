"""Train the auto-encoders of the decoder self-blend family (``sbi_decoder_share``) on a crop store's train split.

    python scripts/train_upsamplers.py --store data_cache/crops --out data_cache/upsamplers

One small auto-encoder per up-sampling kind (transposed convolution, nearest, bilinear, pixel shuffle), each
fitted for ``--seconds-per-model`` CPU seconds on real crops of identities on the *train* side of the store's
split only, so held-out identities are never reconstructed by a model that saw them. Writes one
``<kind>.upsampler.safetensors`` per kind (kind, width, steps and L1 in its metadata) and ``upsamplers.json``
(PSNR of each on held-out crops), for ``sbi_decoders: FOLDER`` in a training config.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from facetrust.synthesis.upsampler import UPSAMPLING_KINDS, psnr, reconstruct, save_upsampler, train_upsampler
from facetrust.training.prepare import CropStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a crop store (the training cache_dir)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-images", type=int, default=800)
    parser.add_argument("--seconds-per-model", type=float, default=150.0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--kinds", nargs="+", default=list(UPSAMPLING_KINDS), choices=UPSAMPLING_KINDS)
    parser.add_argument("--depth", type=int, default=2, choices=(1, 2, 3),
                        help="×2 stages (2: a ×1/4 bottleneck, sharper than the whole-face member's 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    store = CropStore.open(args.store)
    rng = np.random.default_rng(args.seed)
    train_rows = store.indices("train")
    holdout_rows = store.indices("holdout")
    if not len(train_rows):
        parser.error(f"{args.store} has no train rows")
    picked = np.sort(rng.choice(train_rows, min(args.train_images, len(train_rows)), replace=False))
    images = [np.array(store.images[int(i)]) for i in picked]
    checks = [np.array(store.images[int(i)]) for i in rng.choice(holdout_rows, min(64, len(holdout_rows)),
                                                                  replace=False)] if len(holdout_rows) else []
    summary: dict[str, dict[str, float]] = {}
    for kind in args.kinds:
        model, stats = train_upsampler(images, kind, steps=args.steps, seed=args.seed, depth=args.depth,
                                       max_seconds=args.seconds_per_model)
        if checks:
            stats["holdout_psnr_db"] = round(float(np.mean([psnr(a, b) for a, b in zip(checks, reconstruct(model, checks), strict=True)])), 2)
        save_upsampler(model, args.out / kind, stats)
        summary[kind] = stats
        logging.info("%s: %s", kind, stats)
    (args.out / "upsamplers.json").write_text(json.dumps(
        {"store": str(args.store), "train_images": len(images), "seed": args.seed, "depth": args.depth,
         "models": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
