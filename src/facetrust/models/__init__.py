"""Models stage: the architecture registry, ImageNet initialisation, detector files and the detector factory.

Typical use::

    from facetrust.models import create_detector
    detector = create_detector("default")          # bundled weights, checksum-verified
    probs = detector.predict_proba(face_crops)      # (N, H, W, 3) uint8 RGB → (N,) fake probabilities
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# torch-free parts load eagerly; the rest (the architecture registry, ImageNet weights, safetensors loading,
# the torch detector factory) on first use, so the ONNX engine can read specs and ensembles without torch
from facetrust.models.catalog import (
    BUNDLED_WEIGHTS_DIR,
    DEFAULT_DETECTOR,
    DETECTOR_ALIASES,
    DetectorInfo,
    list_detectors,
    resolve_detector,
)
from facetrust.models.ensemble import EnsembleDetector, EnsembleSpec, fit_stacking, save_ensemble
from facetrust.models.specs import check_spec, read_spec, sha256_file

_LAZY = {
    "ARCHITECTURES": "architectures",
    "NATIVE_INPUT_SIZES": "architectures",
    "ArchitectureInfo": "architectures",
    "architecture_info": "architectures",
    "list_architectures": "architectures",
    "register_architecture": "architectures",
    "Detector": "factory",
    "build_model": "factory",
    "create_detector": "factory",
    "IMAGENET_NORMALISATION": "imagenet",
    "load_imagenet_weights": "imagenet",
    "load_detector_files": "weights",
    "save_detector": "weights",
}

if TYPE_CHECKING:
    from facetrust.models.architectures import (
        ARCHITECTURES,
        NATIVE_INPUT_SIZES,
        ArchitectureInfo,
        architecture_info,
        list_architectures,
        register_architecture,
    )
    from facetrust.models.factory import Detector, build_model, create_detector
    from facetrust.models.imagenet import IMAGENET_NORMALISATION, load_imagenet_weights
    from facetrust.models.weights import load_detector_files, save_detector


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facetrust.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"facetrust.models.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ARCHITECTURES",
    "BUNDLED_WEIGHTS_DIR",
    "DEFAULT_DETECTOR",
    "DETECTOR_ALIASES",
    "IMAGENET_NORMALISATION",
    "NATIVE_INPUT_SIZES",
    "ArchitectureInfo",
    "Detector",
    "DetectorInfo",
    "EnsembleDetector",
    "EnsembleSpec",
    "architecture_info",
    "build_model",
    "check_spec",
    "create_detector",
    "fit_stacking",
    "list_architectures",
    "list_detectors",
    "load_detector_files",
    "load_imagenet_weights",
    "read_spec",
    "register_architecture",
    "resolve_detector",
    "save_detector",
    "save_ensemble",
    "sha256_file",
]
