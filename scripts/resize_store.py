"""Copy a prepared crop store at a smaller crop size, so a model with a smaller input re-uses it.

    python scripts/resize_store.py data_cache/crops data_cache/crops128 128

A 256-px store cut for a 224 input (margin 1.3 × 256 / 224) resized to 128 px is the store of a 112 input
with the same margin; ``facetrust train`` with ``crop_store_size: 128`` and ``input_size: 112`` re-uses it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from facetrust.training.prepare import resize_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("size", type=int)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    resize_store(args.source, args.out, args.size)


if __name__ == "__main__":
    main()
