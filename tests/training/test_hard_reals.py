"""Hard real negatives: mined from the training split by a detector's score, checked against the store, repeated."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.training.config import TrainConfig
from facetrust.training.hard_reals import (
    centre_crops,
    load_hard_reals,
    mine_hard_reals,
    save_hard_reals,
    with_repeats,
)
from facetrust.training.prepare import CropStore


def _store(n: int = 20, size: int = 40) -> CropStore:
    """Crop ``i`` is flat grey at level ``10 * i`` in its centre; odd rows are held out."""
    images = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        images[i, 4:-4, 4:-4] = 10 * i
    rows = [{"row": str(i), "path": f"real/videos/v{i // 4}.mp4", "kind": "video", "source": "s",
             "group": f"g{i}", "split": "holdout" if i % 2 else "train", "timestamp": f"{i * 0.04:.3f}"}
            for i in range(n)]
    return CropStore(images=images, landmarks=np.zeros((n, 5, 2), np.float32), rows=rows)


class _Brightness:
    """A stand-in detector whose fake logit is a crop's mean brightness: the brightest crops are the hardest."""

    spec = SimpleNamespace(name="brightness", input_size=32, sha256="0" * 64)

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def logits(self, crops: list[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        self.seen += [c.shape[:2] for c in crops]
        return np.array([c.mean() / 25.5 for c in crops])


def test_the_highest_scored_training_reals_are_kept_most_fake_first() -> None:
    store, detector = _store(), _Brightness()
    hard = mine_hard_reals(detector, store, top_fraction=0.3)
    assert hard.scored == 10 and hard.rows == (18, 16, 14)  # train rows are the even ones; 30 % of 10
    assert list(hard.logits) == sorted(hard.logits, reverse=True) and hard.threshold_logit == hard.logits[-1]
    assert set(detector.seen) == {(32, 32)}  # the detector saw centre cuts at its own input size
    assert hard.keys[0] == "real/videos/v4.mp4@0.720" and hard.detector == "brightness"
    assert mine_hard_reals(detector, store, split="holdout", top_fraction=0.1).rows == (19,)


def test_a_saved_file_loads_back_the_rows_of_its_split_and_refuses_a_rebuilt_store(tmp_path: Path) -> None:
    store = _store()
    path = tmp_path / "hard.json"
    save_hard_reals(mine_hard_reals(_Brightness(), store, top_fraction=0.3), path)
    assert list(load_hard_reals(path, store)) == [18, 16, 14]
    assert len(load_hard_reals(path, store, split="holdout")) == 0
    rebuilt = _store()
    rebuilt.rows[16]["timestamp"] = "9.999"  # another face now sits at row 16
    with pytest.raises(ConfigError, match="1 of the 3 rows .* name other faces"):
        load_hard_reals(path, rebuilt)
    with pytest.raises(ConfigError, match="no file"):
        load_hard_reals(tmp_path / "missing.json", store)
    (tmp_path / "other.json").write_text(json.dumps({"rows": [1]}))
    with pytest.raises(ConfigError, match="is not a facetrust.hard_reals/1 file"):
        load_hard_reals(tmp_path / "other.json", store)


def test_repeats_add_only_rows_of_the_given_indices() -> None:
    indices = np.array([0, 2, 4, 6])
    out = with_repeats(indices, np.array([4, 5]), 3)  # row 5 is not among the indices: not added
    assert list(out) == [0, 2, 4, 4, 4, 6]
    assert list(with_repeats(indices, np.array([4]), 1)) == list(indices)
    with pytest.raises(ConfigError, match="hard_real_repeats"):
        with_repeats(indices, np.array([4]), 0)


def test_bad_requests_are_config_errors(tmp_path: Path) -> None:
    store = _store()
    with pytest.raises(ConfigError, match="top_fraction"):
        mine_hard_reals(_Brightness(), store, top_fraction=0.0)
    with pytest.raises(ConfigError, match="no 'test' rows"):
        mine_hard_reals(_Brightness(), store, split="test")
    with pytest.raises(ConfigError, match="larger than the store"):
        centre_crops(store, np.array([0]), 64)
    with pytest.raises(ConfigError, match="hard_real_repeats"):
        TrainConfig(hard_real_repeats=0)
    with pytest.raises(ConfigError, match="needs sbi: true"):
        TrainConfig(hard_reals=tmp_path / "h.json", sbi=False, real_fakes=(tmp_path,))
