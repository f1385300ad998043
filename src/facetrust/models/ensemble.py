"""Ensembles of detectors: average, weighted average, logistic stacking or the maximum of the members'
recalibrated fake probabilities.

An ensemble is a small JSON file (``{"ensemble": {...}}``) that names its members (bundled detector names or
paths of ``.json`` specs, relative to the file) and how to combine them. It is itself a detector:
:func:`facetrust.models.create_detector` loads it by name or path, the pipeline runs it like any other, and
:meth:`EnsembleDetector.member_probabilities` tells which member saw what.

Members must cut faces the same way (the same crop margin and alignment); each resizes the shared crop to
its own input size. Frame and clip members mix freely: :meth:`EnsembleDetector.predict_tracks` lets each
member score the tracks its own way (clip members with their own window length), then combines per crop.
Their weights are verified by their own checksums; the ensemble's ``sha256`` covers its definition and
every member's checksum, so any change to either changes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust.errors import ConfigError, WeightsError
from facetrust.types import CropSpec, DetectorSpec

if TYPE_CHECKING:
    from facetrust.scoring.runner import Crops

logger = logging.getLogger(__name__)

ENSEMBLE_METHODS = ("average", "weighted", "stacking", "max")
ENSEMBLE_KEY = "ensemble"
MAX_DEPTH = 3  # ensembles of ensembles, at most this deep (and never cyclic)
_EPS = 1e-6


@dataclass(frozen=True)
class EnsembleSpec:
    """How an ensemble combines its members; saved as ``{"ensemble": <these fields>}``."""

    name: str
    members: tuple[str, ...]  # detector names, or paths of .json specs (relative to the ensemble file)
    method: str = "average"  # "average" | "weighted" | "stacking" | "max"
    weights: tuple[float, ...] | None = None  # "weighted": one non-negative weight per member
    # "stacking": logistic regression on the members' logits; "max": each member's logit is recalibrated to
    # coef[i] * logit + offsets[i] (the log-odds of the fakes it is meant to see) and the largest one wins
    coef: tuple[float, ...] | None = None
    intercept: float = 0.0
    offsets: tuple[float, ...] | None = None
    threshold: float = 0.5
    uncertain_band: tuple[float, float] = (0.5, 0.5)
    track_threshold: float | None = None
    track_uncertain_band: tuple[float, float] | None = None
    track_min_frames: int = 8
    description: str = ""
    provenance: dict[str, object] = field(default_factory=dict)
    # what each member looks at, e.g. ("blend", "whole-face"): reports say which of them flagged a face
    roles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        problems = ensemble_problems(self)
        if problems:
            raise ConfigError(f"invalid ensemble {self.name!r}: {'; '.join(problems)}")


def ensemble_problems(spec: EnsembleSpec) -> list[str]:
    """Everything wrong with ``spec`` (empty when it is valid)."""
    problems: list[str] = []
    n = len(spec.members)
    if n < 2:
        problems.append(f"an ensemble needs at least 2 members, got {n}")
    if len(set(spec.members)) != n:
        problems.append("members are listed more than once")
    if spec.method not in ENSEMBLE_METHODS:
        problems.append(f"method must be one of {', '.join(ENSEMBLE_METHODS)}, got {spec.method!r}")
    if spec.method == "weighted":
        if spec.weights is None or len(spec.weights) != n:
            problems.append(f"method 'weighted' needs one weight per member ({n}), got {spec.weights}")
        elif any(not math.isfinite(w) or w < 0 for w in spec.weights) or sum(spec.weights) <= 0:
            problems.append(f"weights must be finite, >= 0 and not all 0, got {spec.weights}")
    if spec.method == "stacking":
        if spec.coef is None or len(spec.coef) != n:
            problems.append(f"method 'stacking' needs one coefficient per member ({n}), got {spec.coef}")
        elif not all(math.isfinite(c) for c in (*spec.coef, spec.intercept)):
            problems.append("stacking coefficients must be finite")
    if spec.method == "max":
        if spec.coef is None or spec.offsets is None or len(spec.coef) != n or len(spec.offsets) != n:
            problems.append(f"method 'max' needs one coefficient and one offset per member ({n}), got "
                            f"coef {spec.coef}, offsets {spec.offsets}")
        elif not all(math.isfinite(c) and c > 0 for c in spec.coef) or not all(map(math.isfinite, spec.offsets)):
            problems.append("max coefficients must be finite and > 0, offsets finite")
    low, high = spec.uncertain_band
    if not 0 < spec.threshold < 1 or not 0 <= low <= spec.threshold <= high <= 1:
        problems.append(f"need 0 <= band low <= threshold <= band high <= 1 (threshold in (0, 1)), got "
                        f"threshold {spec.threshold}, band {spec.uncertain_band}")
    if (spec.track_threshold is None) != (spec.track_uncertain_band is None):
        problems.append("track_threshold and track_uncertain_band go together")
    if spec.roles is not None and (len(spec.roles) != n or not all(isinstance(r, str) and r.strip()
                                                                  for r in spec.roles)):
        problems.append(f"roles must name each of the {n} members with a non-empty string, got {spec.roles}")
    return problems


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def combine(spec: EnsembleSpec, member_probs: np.ndarray) -> np.ndarray:
    """``(N, M)`` member probabilities → ``(N,)`` ensemble probabilities, per ``spec.method``. With ``max``, a
    NaN means that member abstained on that crop: the others decide."""
    probs = np.asarray(member_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(spec.members):
        raise ConfigError(f"expected (N, {len(spec.members)}) member probabilities, got shape {probs.shape}")
    if spec.method != "max" and np.isnan(probs).any():
        raise ConfigError(f"ensemble {spec.name!r}: only a 'max' ensemble lets members abstain (NaN)")
    if spec.method == "average":
        out = probs.mean(axis=1)
    elif spec.method == "weighted":
        weights = np.asarray(spec.weights, dtype=np.float64)
        out = probs @ (weights / weights.sum())
    elif spec.method == "max":  # NaN = the member abstained on that crop (see EnsembleDetector)
        z = _logit(probs) * np.asarray(spec.coef, dtype=np.float64) + np.asarray(spec.offsets)
        z[np.isnan(probs)] = -np.inf
        if probs.size and np.isneginf(z).all(axis=1).any():
            raise ConfigError(f"ensemble {spec.name!r}: every member abstained on a crop")
        out = 1.0 / (1.0 + np.exp(-z.max(axis=1)))
    else:
        z = _logit(probs) @ np.asarray(spec.coef, dtype=np.float64) + spec.intercept
        out = 1.0 / (1.0 + np.exp(-z))
    return out.astype(np.float32)


def fit_stacking(member_probs: np.ndarray, labels: np.ndarray, *, c: float = 1.0,
                 sample_weight: np.ndarray | None = None) -> tuple[tuple[float, ...], float]:
    """Logistic regression of 0/1 ``labels`` on the members' logits → ``(coef, intercept)`` for ``stacking``
    (``sample_weight``: optional weight of each row).

    Fit it on held-out data that none of the members was trained on."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    if len(set(labels.tolist())) != 2:
        raise ConfigError("stacking needs held-out examples of both classes (real and fake)")
    model = LogisticRegression(C=c, max_iter=1000).fit(_logit(member_probs), labels, sample_weight=sample_weight)
    return tuple(round(float(v), 6) for v in model.coef_[0]), round(float(model.intercept_[0]), 6)


def ensemble_to_json(spec: EnsembleSpec) -> str:
    """The file contents for ``spec`` (stable key order, so its checksum is stable; ``roles`` and
    ``offsets`` only when set)."""
    body = asdict(spec)
    for optional in ("roles", "offsets"):
        if body[optional] is None:
            del body[optional]
    return json.dumps({ENSEMBLE_KEY: body}, indent=2, sort_keys=True) + "\n"


def save_ensemble(spec: EnsembleSpec, directory: Path) -> Path:
    """Write ``<directory>/<name>.json``; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{spec.name}.json"
    path.write_text(ensemble_to_json(spec), encoding="utf-8")
    return path


def is_ensemble_file(path: Path) -> bool:
    """Whether ``path`` is a JSON object with an ``"ensemble"`` key (cheap; unreadable files → False)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and ENSEMBLE_KEY in data


def read_ensemble(path: Path) -> EnsembleSpec:
    """Read and validate an ensemble file; any problem → :class:`WeightsError` naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        body = data[ENSEMBLE_KEY]
        if not isinstance(body, dict):
            raise TypeError("the 'ensemble' value must be an object")
        for key in ("members", "weights", "coef", "uncertain_band", "track_uncertain_band", "roles",
                    "offsets"):
            if body.get(key) is not None:
                body[key] = tuple(body[key])
        return EnsembleSpec(**body)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ConfigError) as exc:
        raise WeightsError(f"invalid ensemble file {path}: {exc}") from exc


class EnsembleDetector:
    """Several loaded detectors behaving as one (same interface as :class:`~facetrust.models.Detector`)."""

    def __init__(self, spec: EnsembleSpec, members: Sequence[Any], *, source: Path | None = None) -> None:
        if len(members) != len(spec.members):
            raise ConfigError(f"ensemble {spec.name!r} names {len(spec.members)} members, got {len(members)}")
        crops = {(m.spec.crop.margin, m.spec.crop.align) for m in members}
        if len(crops) != 1:
            raise ConfigError(
                f"ensemble {spec.name!r}: members cut faces differently (margin, align: {sorted(crops)}); "
                "an ensemble's members must share the crop margin and alignment"
            )
        devices = {str(m.device) for m in members}
        if len(devices) != 1:
            raise ConfigError(f"ensemble {spec.name!r}: members sit on different devices {sorted(devices)}")
        self.ensemble = spec
        self.members = list(members)
        # one onnxruntime session for all members, computing their shared trunk once (facetrust.engine.fuse);
        # set by the ONNX engine's loader when it applies, else each member runs its own session
        self.fused_graph: Any = None
        self.device: Any = members[0].device  # a torch.device, or the ONNX engine's CPU device
        margin, align = crops.pop()
        size = max(m.spec.input_size for m in members)
        digest = hashlib.sha256(ensemble_to_json(spec).encode("utf-8"))
        for member in members:
            digest.update((member.spec.sha256 or "").encode("ascii"))
        self.spec = DetectorSpec(
            name=spec.name,
            architecture="ensemble",
            input_size=size,
            crop=CropSpec(size=size, margin=margin, align=align),
            threshold=spec.threshold,
            uncertain_band=spec.uncertain_band,
            track_threshold=spec.track_threshold,
            track_uncertain_band=spec.track_uncertain_band,
            track_min_frames=spec.track_min_frames,
            sha256=digest.hexdigest(),
            license="; ".join(sorted({m.spec.license for m in members if m.spec.license})) or None,
            provenance={
                "description": spec.description or f"{spec.method} ensemble of {', '.join(self.member_names)}",
                "ensemble": {"method": spec.method, "members": dict(zip(self.member_names,
                             [m.spec.sha256 for m in members], strict=True))},
                "source": str(source) if source else None,
                **spec.provenance,
            },
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def member_names(self) -> list[str]:
        return [m.spec.name for m in self.members]

    @property
    def member_roles(self) -> list[str | None]:
        """What each member looks at (the ensemble's ``roles``), ``None`` for each when it names none."""
        return list(self.ensemble.roles) if self.ensemble.roles else [None] * len(self.members)

    def abstains(self, member: Any, track_length: int | None) -> bool:
        """Whether ``member`` has nothing to say about a track of ``track_length`` crops (None: crops that are
        no sequence). In a ``max`` ensemble a clip member abstains on anything shorter than one clip of
        distinct crops, e.g. a photo: a still repeated T times is not a video (it would look like a frozen,
        animated still), and its frame members decide alone."""
        clip_length = member.spec.clip_length
        if self.ensemble.method != "max" or clip_length is None:
            return False
        if all(m.spec.clip_length is not None for m in self.members):
            return False  # someone must answer
        return track_length is None or track_length < clip_length

    def member_probabilities(self, crops: Crops, *, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Each member's fake probabilities for ``crops``, by member name (NaN where it abstains)."""
        crops = list(crops)
        return {m.spec.name: (np.full(len(crops), np.nan, np.float32) if self.abstains(m, None)
                              else m.predict_proba(crops, batch_size=batch_size)) for m in self.members}

    def predict_proba(self, crops: Crops, *, batch_size: int = 32) -> np.ndarray:
        """uint8 RGB crops → ``(N,)`` float32 ensemble fake probabilities."""
        per_member = self.member_probabilities(crops, batch_size=batch_size)
        if not per_member or len(next(iter(per_member.values()))) == 0:
            return np.zeros(0, np.float32)
        return combine(self.ensemble, np.stack(list(per_member.values()), axis=1))

    def member_track_probabilities(
        self, tracks: Sequence[Crops], *, batch_size: int = 32
    ) -> dict[str, list[np.ndarray]]:
        """Each member's per-track, per-crop fake probabilities (from its own ``predict_tracks``), by name; NaN
        for every crop of a track the member abstains on (:meth:`abstains`)."""
        tracks = [list(track) for track in tracks]
        shared = self._one_pass(tracks, batch_size)
        if shared is not None:
            return shared
        out: dict[str, list[np.ndarray]] = {}
        for member in self.members:
            scored = [i for i, track in enumerate(tracks) if not self.abstains(member, len(track))]
            probs = member.predict_tracks([tracks[i] for i in scored], batch_size=batch_size) if scored else []
            per_track = [np.full(len(track), np.nan, np.float32) for track in tracks]
            for i, p in zip(scored, probs, strict=True):
                per_track[i] = p
            out[member.spec.name] = per_track
        return out

    def _one_pass(self, tracks: list[list[Any]], batch_size: int) -> dict[str, list[np.ndarray]] | None:
        """Members on onnxruntime that prepare crops alike score every batch from one preparation; None when
        the members are not all such (torch members, clip members, other input sizes)."""
        from facetrust.engine.onnx import OnnxDetector, shared_pass_logits  # torch-free

        if not all(isinstance(m, OnnxDetector) for m in self.members) or \
                len({m.input_signature for m in self.members}) != 1:
            return None
        lengths = [len(track) for track in tracks]
        flat = [crop for track in tracks for crop in track]
        logits = shared_pass_logits(self.members, flat, batch_size=batch_size, fused=self.fused_graph)
        from facetrust.scoring.crops import logits_to_probabilities

        return {m.spec.name: np.split(logits_to_probabilities(z, m.spec.temperature), np.cumsum(lengths)[:-1])
                if lengths else [] for m, z in zip(self.members, logits, strict=True)}

    def predict_tracks(self, tracks: Sequence[Crops], *, batch_size: int = 32) -> list[np.ndarray]:
        """Per track, the ``(n_t,)`` float32 ensemble fake probability of each crop (combined per crop)."""
        return self.combine_tracks(self.member_track_probabilities(tracks, batch_size=batch_size))

    def combine_tracks(self, per_member: Mapping[str, Sequence[np.ndarray]]) -> list[np.ndarray]:
        """:meth:`member_track_probabilities` → per track, the ensemble probability of each crop."""
        lengths = [len(track) for track in next(iter(per_member.values()))]
        if sum(lengths) == 0:
            return [np.zeros(0, np.float32) for _ in lengths]
        stacked = np.stack([np.concatenate(probs) for probs in per_member.values()], axis=1)
        return np.split(combine(self.ensemble, stacked), np.cumsum(lengths)[:-1])

    def logits(self, crops: Crops, *, batch_size: int = 32) -> np.ndarray:
        """The ensemble probability as a logit (the ensemble has no temperature of its own)."""
        return _logit(self.predict_proba(crops, batch_size=batch_size)).astype(np.float32)

    def __repr__(self) -> str:
        return (f"EnsembleDetector(name={self.spec.name!r}, method={self.ensemble.method!r}, "
                f"members={self.member_names}, device={str(self.device)!r})")


def load_ensemble(
    path: Path, load_member: Callable[[str, Path], Any], *, _stack: tuple[Path, ...] = ()
) -> EnsembleDetector:
    """Load the ensemble file ``path``; ``load_member(name_or_path, base_dir)`` loads one member."""
    path = Path(path).resolve()
    if path in _stack:
        raise WeightsError(f"ensemble {path} contains itself (cycle: {' -> '.join(str(p) for p in (*_stack, path))})")
    if len(_stack) >= MAX_DEPTH:
        raise WeightsError(f"ensembles nested more than {MAX_DEPTH} deep at {path}")
    spec = read_ensemble(path)
    members = [load_member(member, path.parent) for member in spec.members]
    return EnsembleDetector(spec, members, source=path)


def describe(spec: EnsembleSpec) -> Mapping[str, object]:
    """A short, JSON-friendly summary (for listings)."""
    return {"name": spec.name, "method": spec.method, "members": list(spec.members)}


__all__ = [
    "ENSEMBLE_METHODS",
    "EnsembleDetector",
    "EnsembleSpec",
    "combine",
    "describe",
    "ensemble_problems",
    "ensemble_to_json",
    "fit_stacking",
    "is_ensemble_file",
    "load_ensemble",
    "read_ensemble",
    "save_ensemble",
]
