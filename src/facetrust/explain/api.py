"""``explain`` and ``suspicious_faces``: the explanation room's entry points (torch is imported on call)."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from facetrust.errors import ConfigError, InputError
from facetrust.explain.base import EXPLAINERS, Explainer
from facetrust.explain.faces import (
    Choice,
    FaceCrops,
    FileCrops,
    ScanCrops,
    check_count,
    check_report,
    choose,
    suspicious,
)
from facetrust.explain.records import FaceExplanation, SuspiciousFace
from facetrust.report import Report
from facetrust.types import Label

logger = logging.getLogger(__name__)

Source = str | os.PathLike | np.ndarray
Progress = Callable[[str, float], None]


def list_methods() -> list[str]:
    """The registered explanation methods, sorted by name (the default is ``"gradcam"``)."""
    return EXPLAINERS.names()


def make_explainer(method: str, options: Mapping[str, Any] | None = None) -> Explainer:
    """The explainer registered as ``method`` with ``options`` (unknown method or option →
    :class:`UnknownNameError` with close names; a bad value → :class:`ConfigError`)."""
    if not isinstance(method, str):
        raise ConfigError(f"method must be a string, got {method!r}")
    return EXPLAINERS.get(method)(**dict(options or {}))


def _rule(spec: Any, threshold: float | None) -> Any:
    from facetrust.verdict import DecisionRule

    return DecisionRule.from_spec(spec.threshold, spec.uncertain_band, threshold)


def suspicious_faces(
    source: Source, report: Report, per_person: int = 3, detector: str = "default", *,
    threshold: float | None = None,
) -> list[SuspiciousFace]:
    """The ``per_person`` most suspicious faces of each person of ``report``, cut again from ``source`` exactly
    as ``detector`` (the one that made the report) cuts them, without any heatmap; people in report order,
    each person's faces most suspicious first. Labels follow the detector's per-face rule (``threshold``
    overrides it as in :func:`facetrust.analyze`). Loads the detector as ``analyze`` does (onnxruntime when it
    can, so no torch), cached across calls."""
    from facetrust.pipeline import get_detector

    per_person = check_count(per_person)
    scorer = get_detector(detector, None, "auto")  # the cache entry analyze itself uses
    report = check_report(report, scorer.spec.name)
    return suspicious(choose(report, per_person), FileCrops(source, scorer.spec.crop), _rule(scorer.spec, threshold))


def _analyze(source: Source, detector: str, frames: int, device: str | None, threshold: float | None,
             face_detector: str, runtime: str, progress: Progress | None) -> tuple[Report, ScanCrops]:
    """``facetrust.analyze``, keeping the scan so the explained crops are the very crops that were scored."""
    from facetrust.engine import check_runtime
    from facetrust.media.probe import check_source
    from facetrust.pipeline import PipelineOptions, get_pipeline

    check_source(source)  # as analyze: a missing or empty file is refused before any model loads
    for key, value in (("detector", detector), ("face_detector", face_detector)):
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
    options = PipelineOptions(frames=frames, threshold=threshold)
    pipeline = get_pipeline(detector, device, face_detector, check_runtime(runtime))
    started = time.perf_counter()
    scan = pipeline.scan(source, options, progress)  # faces and provenance, exactly as analyze scans
    if progress is not None:
        progress("scoring", 0.0)
    path = None if isinstance(source, np.ndarray) else str(source)
    return pipeline.report_from_scan(scan, options, path=path, started=started), ScanCrops(scan)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def deciding_member(ensemble: Any, probabilities: Sequence[float]) -> int:
    """Which member of ``ensemble`` decided a face whose members' probabilities are ``probabilities`` (NaN:
    the member abstained): the largest recalibrated logit for ``max``, the largest contribution to the
    combined logit for ``stacking``, the largest weighted probability for ``weighted``, else the largest."""
    spec = ensemble.ensemble
    p = np.asarray(probabilities, np.float64)
    if spec.method == "max":
        score = _logit(p) * np.asarray(spec.coef) + np.asarray(spec.offsets)
    elif spec.method == "stacking":
        score = _logit(p) * np.asarray(spec.coef)
    elif spec.method == "weighted":
        score = p * np.asarray(spec.weights)
    else:
        score = p.copy()
    score[np.isnan(p)] = -np.inf
    return int(np.argmax(score))


def _window(crops: FaceCrops, choice: Choice, clip_length: int | None) -> tuple[list[np.ndarray], int]:
    """The crops the model reads for this face, and its position among them: the face alone for a frame model;
    for a clip model the window of T crops of the person (as the scorer cuts them) that has it nearest its
    centre."""
    if clip_length is None:
        return crops.crops(choice.person, [choice.index]), 0
    from facetrust.scoring.runner import clip_windows

    windows = [w for w in clip_windows(len(choice.person.frame_scores), clip_length) if choice.index in w]
    window = [int(i) for i in min(windows, key=lambda w: abs(float(np.mean(w)) - choice.index))]
    return crops.crops(choice.person, window), window.index(choice.index)


def explain(
    source: Source,
    *,
    report: Report | None = None,
    method: str = "gradcam",
    faces_per_person: int = 3,
    detector: str = "default",
    frames: int = 32,
    device: str | None = None,
    threshold: float | None = None,
    face_detector: str = "mtcnn",
    runtime: str = "auto",
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[FaceExplanation]:
    """Explain the ``faces_per_person`` most suspicious faces of each person that :func:`facetrust.analyze`
    found in ``source``: a heatmap of what pushed the detector's fake logit up, per face.

    Args:
        source: the image or video (path, or RGB ``uint8`` array) that was or will be analysed.
        report: the :class:`Report` of ``source`` by ``detector``; re-used (its faces are cut again from the
            file). ``None``: ``analyze`` runs here (``frames``, ``threshold``, ``face_detector``, ``runtime``
            as in :func:`facetrust.analyze`) and its very crops are explained.
        method: one of :func:`list_methods` (``lime`` and ``shap`` take seconds per face).
        faces_per_person: how many of each person's faces, most suspicious first.
        detector: the detector to explain (an ensemble: per face, the member that decided it).
        device: where the PyTorch model runs (explanations always run on PyTorch).
        options: the method's options, e.g. ``{"samples": 100}`` for LIME, ``{"evals": 100}`` for SHAP,
            ``{"steps": 16}`` for integrated gradients.
        progress: called as ``progress(stage, fraction)``: ``"faces"`` and ``"scoring"`` while analysing, then
            ``"explaining"`` per face, and ``"done"``.

    Returns:
        One :class:`FaceExplanation` per face, people in report order; empty when no face was found.

    Raises:
        InputError: the media cannot be analysed. UnknownNameError: no such method, option or detector.
        ConfigError: a bad option, a report made by another detector, a method the model does not have
        (``attention`` of a frame model). DependencyError: the method's package is not installed.
    """
    explainer = make_explainer(method, options)  # bad method or options fail before any analysis
    per_person = check_count(faces_per_person)
    _check_threshold(threshold)
    if report is None:
        report, crops = _analyze(source, detector, frames, device, threshold, face_detector, runtime, progress)
        return _explain(report, crops, explainer, per_person, detector, device, threshold, progress)
    if not isinstance(source, str | os.PathLike | np.ndarray):
        raise InputError(f"source must be a path or an RGB uint8 array, got {type(source).__name__}")
    return _explain(report, None, explainer, per_person, detector, device, threshold, progress, source=source)


def analyze_and_explain(
    source: Source,
    *,
    method: str = "gradcam",
    faces_per_person: int = 3,
    detector: str = "default",
    frames: int = 32,
    device: str | None = None,
    threshold: float | None = None,
    face_detector: str = "mtcnn",
    runtime: str = "auto",
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[Report, list[FaceExplanation]]:
    """:func:`facetrust.analyze` and :func:`explain` in one pass: the report, and the explanations of the very
    crops it scored (no second decoding). Arguments, errors: as :func:`explain`."""
    explainer = make_explainer(method, options)
    per_person = check_count(faces_per_person)
    _check_threshold(threshold)
    report, crops = _analyze(source, detector, frames, device, threshold, face_detector, runtime, progress)
    return report, _explain(report, crops, explainer, per_person, detector, device, threshold, progress)


def _check_threshold(threshold: object) -> None:
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                  or not math.isfinite(threshold)):
        raise ConfigError(f"threshold must be a number, got {threshold!r}")


def _explain(report: Report, crops: FaceCrops | None, explainer: Explainer, per_person: int, detector: str,
             device: str | None, threshold: float | None, progress: Progress | None, *,
             source: Source | None = None) -> list[FaceExplanation]:
    """The explanations of ``report``'s chosen faces (crops from the scan, or cut again from ``source``)."""
    from facetrust.pipeline import get_detector

    model = get_detector(detector, device, "torch")
    report = check_report(report, model.spec.name)
    if crops is None:
        assert source is not None
        crops = FileCrops(source, model.spec.crop)
    rule = _rule(model.spec, threshold)
    chosen = choose(report, per_person)
    for person in report.people:  # cut (or decode) each person's chosen faces in one pass
        crops.crops(person, [c.index for c in chosen if c.person is person])
    explained: list[FaceExplanation] = []
    targets = _Targets(crops, chosen)
    for n, choice in enumerate(chosen):
        if progress is not None:
            progress("explaining", n / max(1, len(chosen)))
        score = choice.person.frame_scores[choice.index]
        member, window, position = _deciding(model, crops, choice, targets)
        target = targets.of(member)
        attribution = explainer.attribute(target, window, position)
        label = rule.label(score.fake_probability)
        explained.append(FaceExplanation(
            person=choice.person.person, frame_index=score.frame_index, timestamp=score.timestamp,
            box=tuple(score.box), fake_probability=score.fake_probability,  # type: ignore[arg-type]
            label=label, is_evidence=label is Label.FAKE, method=explainer.name,
            member=member.spec.name if member is not model else None,
            crop=target.crop(window, position), heatmap=attribution.heatmap,
            frame_weights=attribution.frame_weights,
        ))
    if progress is not None:
        progress("done", 1.0)
    return explained


class _Targets:
    """One :class:`~facetrust.explain.target.ExplainTarget` per torch model, made on first use, and the frame
    models' probabilities of all chosen faces, scored in one batch per model."""

    def __init__(self, crops: FaceCrops, chosen: Sequence[Choice]) -> None:
        self._made: dict[int, Any] = {}
        self._crops, self._chosen = crops, list(chosen)
        self._probabilities: dict[tuple[int, int, int], float] = {}

    def probability(self, detector: Any, choice: Choice) -> float:
        """``detector``'s fake probability of the face ``choice`` (clip models: of its window)."""
        if detector.spec.clip_length is not None:
            window, position = _window(self._crops, choice, detector.spec.clip_length)
            return float(self.of(detector).probability(window, position))
        key = (id(detector), choice.person.person, choice.index)
        if key not in self._probabilities:
            faces = [c for c in self._chosen if (id(detector), c.person.person, c.index) not in self._probabilities]
            faces = faces if choice in faces else [choice]
            batch = [self._crops.crops(c.person, [c.index])[0] for c in faces]
            for c, p in zip(faces, detector.predict_proba(batch), strict=True):
                self._probabilities[(id(detector), c.person.person, c.index)] = float(p)
        return self._probabilities[key]

    def of(self, detector: Any) -> Any:
        if id(detector) not in self._made:
            from facetrust.explain.target import ExplainTarget

            self._made[id(detector)] = ExplainTarget(detector)
        return self._made[id(detector)]


def _deciding(model: Any, crops: FaceCrops, choice: Choice, targets: _Targets) -> tuple[Any, list[np.ndarray], int]:
    """The model that decided this face (``model`` itself, or for an ensemble its deciding member, nested
    ensembles followed down), with the window it reads and the face's position in it."""
    from facetrust.models.ensemble import EnsembleDetector

    while isinstance(model, EnsembleDetector):
        length = len(choice.person.frame_scores)
        probabilities: list[float] = []
        for member in model.members:
            if isinstance(member, EnsembleDetector):
                probabilities.append(float(np.mean(member.predict_proba(crops.crops(choice.person,
                                                                                    [choice.index])))))
                continue
            if model.abstains(member, length):
                probabilities.append(math.nan)
                continue
            probabilities.append(targets.probability(member, choice))
        model = model.members[deciding_member(model, probabilities)]
        logger.debug("member probabilities %s: %s decides", probabilities, model.spec.name)
    window, position = _window(crops, choice, model.spec.clip_length)
    return model, window, position


__all__ = ["analyze_and_explain", "deciding_member", "explain", "list_methods", "make_explainer", "suspicious_faces"]
