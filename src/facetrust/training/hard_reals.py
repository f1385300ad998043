"""Hard real negatives: the real training crops a detector finds most fake, mined once, repeated in a later run.

A self-blend detector's false positives are real faces that look blended: heavy compression, low light,
small or sharpened faces, webcams. :func:`mine_hard_reals` scores every real crop of one split of a crop
store with a detector and keeps the highest-scored share; a run with ``hard_reals: FILE`` then draws each of
them ``hard_real_repeats`` times per epoch (as the real side of its self-blended pair, so its fake twin comes
along and the pair stays balanced). Rows are checked against the store when loaded, by path and timestamp,
so a rebuilt store cannot silently shift them onto other faces.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.training.prepare import CropStore, centre_cut

logger = logging.getLogger(__name__)

FORMAT = "facetrust.hard_reals/1"


@dataclass(frozen=True)
class HardReals:
    """The mined rows of a crop store, most fake-looking first, with the logits that chose them."""

    rows: tuple[int, ...]
    logits: tuple[float, ...]
    keys: tuple[str, ...]  # "path@timestamp" of each row: what :func:`load_hard_reals` checks
    detector: str
    detector_sha256: str | None
    split: str
    scored: int  # real crops scored; ``len(rows)`` of them were kept
    threshold_logit: float  # the lowest kept logit


def row_key(row: dict[str, str]) -> str:
    """The identity of a store row that survives re-indexing: its media path and timestamp."""
    return f"{row['path']}@{row['timestamp']}"


def centre_crops(store: CropStore, rows: np.ndarray, size: int) -> np.ndarray:
    """The ``size × size`` centre of each store crop: the face as training's validation cut sees it."""
    store_size = store.images.shape[1]
    if size > store_size:
        raise ConfigError(f"input size {size} is larger than the store's {store_size}-px crops")
    return centre_cut(store.images[rows], size)


def score_crops(detector: Any, store: CropStore, rows: np.ndarray, *, batch_size: int = 64,
                on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Fake logits ``(len(rows),)`` of ``detector`` (a :class:`facetrust.models.Detector`) on the stored crops."""
    size = detector.spec.input_size
    out = np.empty(len(rows), np.float64)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        out[start : start + len(chunk)] = detector.logits(list(centre_crops(store, chunk, size)), batch_size=batch_size)
        if on_batch is not None:
            on_batch(start + len(chunk), len(rows))
    return out


def mine_hard_reals(detector: Any, store: CropStore, *, split: str = "train", top_fraction: float = 0.1,
                    on_batch: Callable[[int, int], None] | None = None) -> HardReals:
    """The ``top_fraction`` of ``split``'s real crops that ``detector`` scores highest (every store crop is real)."""
    if not 0.0 < top_fraction <= 1.0:
        raise ConfigError(f"top_fraction must be in (0, 1], got {top_fraction}")
    rows = store.indices(split)
    if len(rows) == 0:
        raise ConfigError(f"the crop store has no {split!r} rows to mine")
    logits = score_crops(detector, store, rows, on_batch=on_batch)
    keep = max(1, round(top_fraction * len(rows)))
    order = np.argsort(-logits, kind="stable")[:keep]
    chosen = rows[order]
    spec = detector.spec
    return HardReals(rows=tuple(int(r) for r in chosen), logits=tuple(float(v) for v in logits[order]),
                     keys=tuple(row_key(store.rows[int(r)]) for r in chosen), detector=spec.name,
                     detector_sha256=spec.sha256, split=split, scored=len(rows),
                     threshold_logit=float(logits[order[-1]]))


def save_hard_reals(hard: HardReals, path: Path) -> None:
    """Write ``hard`` as JSON (``format``: ``facetrust.hard_reals/1``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, **asdict(hard)}, indent=1) + "\n", encoding="utf-8")


def load_hard_reals(path: Path, store: CropStore, *, split: str = "train") -> np.ndarray:
    """The mined rows of ``path`` that belong to ``split`` of ``store``, checked against the store's rows.

    A missing or malformed file, or rows that name other faces than the store's (a rebuilt store) →
    :class:`ConfigError` telling to mine again.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"hard_reals: no file at {path}; make it with scripts/mine_hard_reals.py") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"hard_reals: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"hard_reals: {path} is not a {FORMAT} file (made by scripts/mine_hard_reals.py)")
    rows, keys = data.get("rows"), data.get("keys")
    if not isinstance(rows, list) or not isinstance(keys, list) or len(rows) != len(keys):
        raise ConfigError(f"hard_reals: {path} has no matching 'rows' and 'keys' lists")
    stale = [r for r, k in zip(rows, keys, strict=True)
             if not isinstance(r, int) or not 0 <= r < len(store.rows) or row_key(store.rows[r]) != k]
    if stale:
        raise ConfigError(f"hard_reals: {len(stale)} of the {len(rows)} rows of {path} name other faces than this "
                          "crop store (was it rebuilt?); mine them again with scripts/mine_hard_reals.py")
    chosen = np.array([r for r in rows if store.rows[r]["split"] == split], np.int64)
    logger.info("hard reals: %d %s rows of %s (mined with %s)", len(chosen), split, path, data.get("detector"))
    return chosen


def with_repeats(indices: np.ndarray, hard_rows: np.ndarray, repeats: int) -> np.ndarray:
    """``indices`` with every one of ``hard_rows`` that it holds appearing ``repeats`` times in all, sorted."""
    if repeats < 1:
        raise ConfigError(f"hard_real_repeats must be >= 1, got {repeats}")
    extra = hard_rows[np.isin(hard_rows, indices)]
    return np.sort(np.concatenate([indices, np.repeat(extra, repeats - 1)]))


__all__ = ["HardReals", "centre_crops", "load_hard_reals", "mine_hard_reals", "row_key", "save_hard_reals",
           "score_crops", "with_repeats"]
