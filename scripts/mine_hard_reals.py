"""Mine hard real negatives: the real crops of a crop store's training split that a detector finds most fake.

    python scripts/mine_hard_reals.py --detector sbi_families_lite0 --store data_cache/crops \
        --out data_cache/hard_reals/sbi_families_lite0.json --top 0.1

Scores the centre crop of every real face of ``--split`` (the training split by default: held-out identities
are never mined) with the detector and keeps the ``--top`` share that scores highest. A later run reads the
file with ``hard_reals: FILE`` and draws each of them ``hard_real_repeats`` times per epoch
(:mod:`facetrust.training.hard_reals`). Prints the kept share's logit range and what it is made of.
"""

from __future__ import annotations

import argparse
import collections
import logging
import time
from pathlib import Path

from facetrust.models import create_detector
from facetrust.training.hard_reals import mine_hard_reals, save_hard_reals
from facetrust.training.prepare import CropStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", required=True, help="a detector name or spec (.json)")
    parser.add_argument("--store", type=Path, default=Path("data_cache/crops"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", type=float, default=0.1, help="share of the split's real crops to keep")
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("mine_hard_reals")

    detector = create_detector(args.detector, device="cpu")
    store = CropStore.open(args.store)
    started, last = time.monotonic(), [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] > 10 or done == total:
            last[0] = now
            log.info("scored %d / %d crops (%.0f s)", done, total, now - started)

    hard = mine_hard_reals(detector, store, split=args.split, top_fraction=args.top, on_batch=progress)
    save_hard_reals(hard, args.out)
    kinds = collections.Counter(store.rows[r]["kind"] for r in hard.rows)
    sources = collections.Counter(store.rows[r]["source"] for r in hard.rows).most_common(5)
    log.info("kept %d of %d %s crops (logits %.2f to %.2f): %s; most from %s", len(hard.rows), hard.scored,
             args.split, hard.logits[-1], hard.logits[0], dict(kinds), sources)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
