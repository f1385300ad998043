"""Real fakes as a training source: the crops of a ``facetrust extract`` folder, labelled real (0) or fake (1).

:class:`ExtractedCrops` reads the folder's ``index.csv``; :class:`LabelledCrops` and :class:`LabelledClips`
turn its crops into tensors prepared exactly as :class:`~facetrust.training.dataset.SelfBlendPairs` prepares
the self-blended pairs, so that real and fake, synthetic and extracted, differ only by their content.

Geometry. A crop store keeps crops of side ``store_size`` whose central ``input_size`` square is the
inference crop (margin ``crop_margin``). An extracted crop was cut with the margin of its extraction
(``extract.json``, 1.3 by default, like ``crop_margin``): it is resized so that the face has the same pixel
size as in the store, then cut to at most ``store_size``. Translation jitter is limited to the border that is
left: none for an extraction at the inference margin; the store's full jitter for one extracted with
``--margin`` ≥ ``crop_margin × store_size / input_size``. A smaller margin than ``crop_margin`` cannot show
what inference sees and is refused.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from facetrust.datasets import DatasetItem, grouped_split
from facetrust.datasets.records import absolute
from facetrust.errors import ConfigError, CorruptMediaError, InputError, MediaNotFoundError
from facetrust.synthesis import DegradeConfig
from facetrust.training.clips import (
    Augment,
    apply_augment,
    cut,
    cut_window,
    degrade_clip,
    item_rng,
    stack,
    windows,
)

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("item", "path", "label", "method", "group", "split", "kind", "frame_index", "timestamp",
                    "person", "crop")
"""Columns of an extraction's ``index.csv`` (:data:`facetrust.extract.INDEX_COLUMNS`) that training reads."""

LABELS = {"real": 0, "fake": 1, "0": 0, "1": 1}
DEFAULT_MARGIN = 1.3  # ExtractOptions.crop_margin, assumed when a folder has no extract.json


@dataclass
class ExtractedCrops:
    """The real and fake crops of a ``facetrust extract`` folder: ``rows`` of its ``index.csv`` (those with
    label real/fake, in file order), ``labels`` (0 real, 1 fake), ``methods``, ``groups``, ``splits`` (the
    dataset's own: ``train``/``val``/``test``, or ``""`` when it has none) and the crop ``margin``."""

    directory: Path
    rows: list[dict[str, str]]
    labels: np.ndarray
    methods: list[str]
    groups: list[str]
    splits: list[str]
    frame_indices: np.ndarray
    margin: float = DEFAULT_MARGIN

    @classmethod
    def open(cls, directory: Path) -> ExtractedCrops:
        """Read ``directory/index.csv`` (and the crop margin from ``extract.json``).

        No such folder or no ``index.csv`` → :class:`ConfigError` naming the folder; an unreadable file,
        missing columns, a bad ``frame_index`` or no real/fake row → :class:`InputError` naming the file."""
        directory = Path(directory)
        file = directory / "index.csv"
        if not file.is_file():
            raise ConfigError(f"{directory} is not a `facetrust extract` folder: it has no index.csv")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {file}: {exc}") from exc
        reader = csv.DictReader(io.StringIO(text, newline=""), restval="")
        try:
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise InputError(
                    f"{file} lacks the column(s) {', '.join(missing)} (found: {', '.join(columns) or 'no header'}); "
                    f"needed: {', '.join(REQUIRED_COLUMNS)}"
                )
            lines = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise InputError(f"{file} is not a valid CSV file (line {reader.line_num}): {exc}") from exc
        rows, labels, frames = [], [], []
        others: Counter[str] = Counter()
        for line, row in lines:
            label = LABELS.get(row["label"].strip().lower())
            if label is None:
                others[row["label"]] += 1
                continue
            try:
                frames.append(int(row["frame_index"]))
            except ValueError:
                raise InputError(
                    f"{file} line {line}: frame_index {row['frame_index']!r} is not an integer"
                ) from None
            rows.append(row)
            labels.append(label)
        if others:
            logger.warning("%s: %d row(s) without a real/fake label skipped (%s)", file, sum(others.values()),
                           ", ".join(f"{k!r} {v}" for k, v in others.items()))
        if not rows:
            raise InputError(f"{file} holds no real or fake crop")
        return cls(
            directory=directory,
            rows=rows,
            labels=np.asarray(labels, np.int64),
            methods=[r["method"] or "fake" if lab else "real" for r, lab in zip(rows, labels, strict=True)],
            groups=[r["group"] or r["item"] for r in rows],
            splits=[r["split"].strip().lower() for r in rows],
            frame_indices=np.asarray(frames, np.int64),
            margin=_extract_margin(directory),
        )

    def __len__(self) -> int:
        return len(self.rows)

    def indices(self, split: str | Sequence[str], kind: str | None = None) -> np.ndarray:
        """Positions of the rows in ``split`` (one name or several; ``""`` for rows without a split), of
        ``kind`` (``image``/``video``) when given."""
        wanted = {split} if isinstance(split, str) else set(split)
        return np.array([i for i, (s, r) in enumerate(zip(self.splits, self.rows, strict=True))
                         if s in wanted and (kind is None or r["kind"] == kind)], dtype=np.int64)

    def load(self, i: int) -> np.ndarray:
        """Crop ``i`` as RGB uint8; a missing or undecodable file → an :class:`InputError` naming it."""
        file = self.directory / self.rows[i]["crop"]
        if not file.is_file():
            raise MediaNotFoundError(f"crop {file} (row {i} of {self.directory / 'index.csv'}) does not exist")
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None:
            raise CorruptMediaError(f"crop {file} cannot be decoded as an image")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def clips(self, indices: np.ndarray, length: int) -> list[list[int]]:
        """Windows of ``length`` rows (among ``indices``) of one item and person, ordered by frame index; see
        :func:`~facetrust.training.clips.windows` (stride ``length``, tail dropped, a shorter track padded as
        detection pads it). An image gives one frozen clip: pass ``indices(split, kind="video")`` to
        leave images out. Tracks are taken in (item, person) order."""
        tracks: dict[tuple[str, str], list[int]] = {}
        for i in (int(i) for i in indices):
            tracks.setdefault((self.rows[i]["item"], self.rows[i]["person"]), []).append(i)
        out: list[list[int]] = []
        for key in sorted(tracks):
            out.extend(windows(sorted(tracks[key], key=lambda i: (int(self.frame_indices[i]), i)), length))
        return out

    def with_splits(
        self,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        names: Sequence[str] = ("train", "val", "test"),
    ) -> ExtractedCrops:
        """A copy whose rows without a split get one from :func:`~facetrust.datasets.grouped_split`: whole
        groups (the adapters put a fake in its original's group) go to ``names`` in ``fractions`` of the
        items, reproducibly for ``seed``; rows that have a split keep it and pull their group along."""
        items: dict[str, DatasetItem] = {}
        for row, label, method, group, split in zip(self.rows, self.labels, self.methods, self.groups,
                                                    self.splits, strict=True):
            if row["item"] not in items:
                items[row["item"]] = DatasetItem(
                    path=absolute(row["path"] or row["item"]),
                    label="fake" if label else "real",
                    kind="video" if row["kind"] == "video" else "image",
                    group=group,
                    method=method,
                    split=split or None,
                )
        keys = {id(item): key for key, item in items.items()}
        split_of = {keys[id(item)]: name
                    for name, members in grouped_split(list(items.values()), fractions, seed, names=names,
                                                       link_sources=False).items()
                    for item in members}
        filled = [s or split_of[r["item"]] for s, r in zip(self.splits, self.rows, strict=True)]
        return replace(self, splits=filled)


def _extract_margin(directory: Path) -> float:
    file = directory / "extract.json"
    try:
        options = json.loads(file.read_text(encoding="utf-8")).get("options", {})
    except (OSError, ValueError, AttributeError):
        logger.warning("%s: no readable extract.json; assuming crops with the default margin %.2f",
                       directory, DEFAULT_MARGIN)
        return DEFAULT_MARGIN
    if options.get("align"):
        logger.warning("%s holds aligned (rotated) crops; the crop store's are not aligned", directory)
    return float(options.get("crop_margin", DEFAULT_MARGIN))


def balanced_weights(labels: np.ndarray, methods: Sequence[str] | None = None) -> np.ndarray:
    """Per-sample weights (mean 1) for ``WeightedRandomSampler``: reals and fakes carry equal total weight and,
    within the fakes, each of ``methods`` does too. A class without samples → :class:`ConfigError`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ConfigError("labels must be a 1-D array of 0 (real) and 1 (fake)")
    if methods is not None and len(methods) != len(labels):
        raise ConfigError(f"{len(methods)} methods for {len(labels)} labels")
    for value, name in ((0, "real"), (1, "fake")):
        if not np.any(labels == value):
            raise ConfigError(f"no {name} samples: real and fake cannot be balanced")
    weights = np.zeros(len(labels), np.float64)
    weights[labels == 0] = 0.5 / np.sum(labels == 0)
    fakes = np.flatnonzero(labels == 1)
    groups = np.array([methods[i] for i in fakes]) if methods is not None else np.zeros(len(fakes))
    names = np.unique(groups)
    for name in names:
        members = fakes[groups == name]
        weights[members] = 0.5 / len(names) / len(members)
    return weights * len(labels)


class _LabelledFrames:
    """What :class:`LabelledCrops` and :class:`LabelledClips` share: the store geometry and the frame cut."""

    def __init__(
        self,
        crops: ExtractedCrops,
        *,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        train: bool,
        seed: int,
        store_size: int,
        crop_margin: float,
        degradations: DegradeConfig | None,
        augment: Augment | None,
    ) -> None:
        self.crops = crops
        self.input_size, self.mean, self.std = input_size, mean, std
        self.train, self.seed = train, seed
        self.store_size = store_size
        self.degradations = degradations or DegradeConfig()
        self.augment = augment
        self.epoch = 0
        # side of an extracted crop once its face has the store's scale
        self.side = round(input_size * crops.margin / crop_margin)
        if self.side < input_size:
            raise ConfigError(
                f"{crops.directory} was extracted with margin {crops.margin:g}, less than the training "
                f"crop_margin {crop_margin:g}: extract again with --margin {crop_margin:g} or more"
            )

    def to_store_geometry(self, image: np.ndarray) -> np.ndarray:
        """Resize an extracted crop so its face has the store's scale; cut it to at most ``store_size``."""
        if image.shape[:2] != (self.side, self.side):
            shrink = image.shape[0] > self.side
            image = cv2.resize(image, (self.side, self.side),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        border = max(0, (self.side - self.store_size) // 2)
        keep = min(self.side, self.store_size)
        return image[border : border + keep, border : border + keep]

    def frames(self, rows: Sequence[int], item: int) -> torch.Tensor:
        """Rows → (T, 3, S, S): one cut, flip, augmentation and degradation draw for all of them."""
        rng = item_rng(self.seed, self.epoch, item, self.train)
        loaded = {row: self.to_store_geometry(self.crops.load(row)) for row in set(rows)}
        x0, y0, flip = cut_window(loaded[rows[0]].shape[0], self.input_size, self.train, rng)
        cuts = [cut(loaded[row], x0, y0, self.input_size, flip) for row in rows]
        if self.train:
            cuts = apply_augment(cuts, self.augment, int(rng.integers(2**63)))
        return stack(degrade_clip(cuts, rng, self.degradations), self.mean, self.std)


class LabelledCrops(_LabelledFrames, Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item i = (crop ``indices[i]`` as (3, S, S), its label as a float tensor: 0 real, 1 fake), cut like
    :class:`SelfBlendPairs` (jittered and flipped when ``train``, centred otherwise; see the module doc for the
    geometry), augmented when ``train`` and ``augment`` is given, then degraded. Deterministic per (seed,
    epoch, item)."""

    def __init__(
        self,
        crops: ExtractedCrops,
        indices: np.ndarray,
        *,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        train: bool,
        seed: int = 0,
        store_size: int = 256,
        crop_margin: float = 1.3,
        degradations: DegradeConfig | None = None,
        augment: Augment | None = None,
    ) -> None:
        super().__init__(
            crops, input_size=input_size, mean=mean, std=std, train=train, seed=seed, store_size=store_size,
            crop_margin=crop_margin, degradations=degradations, augment=augment,
        )
        self.indices = np.asarray(indices, np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = int(self.indices[item])
        return self.frames([row], item)[0], torch.tensor(float(self.crops.labels[row]))


class LabelledClips(_LabelledFrames, Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item i = (the rows ``clips[i]`` as (T, 3, S, S), the clip's label), from
    :meth:`ExtractedCrops.clips`. One crop jitter, flip and augmentation for the whole clip; degradations
    drawn once per clip, with fresh noise per frame (:func:`~facetrust.training.clips.degrade_clip`)."""

    def __init__(
        self,
        crops: ExtractedCrops,
        clips: Sequence[Sequence[int]],
        *,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        train: bool,
        seed: int = 0,
        store_size: int = 256,
        crop_margin: float = 1.3,
        degradations: DegradeConfig | None = None,
        augment: Augment | None = None,
    ) -> None:
        super().__init__(
            crops, input_size=input_size, mean=mean, std=std, train=train, seed=seed, store_size=store_size,
            crop_margin=crop_margin, degradations=degradations, augment=augment,
        )
        self.clips = [list(clip) for clip in clips]
        for clip in self.clips:
            if not clip or len({int(crops.labels[row]) for row in clip}) != 1:
                raise ConfigError("every clip needs at least one row, all with the same label")

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.clips[item]
        return self.frames(rows, item), torch.tensor(float(self.crops.labels[rows[0]]))


__all__ = ["REQUIRED_COLUMNS", "ExtractedCrops", "LabelledClips", "LabelledCrops", "balanced_weights"]
