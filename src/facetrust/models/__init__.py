"""Models stage: the architecture registry, ImageNet initialisation, detector files and the detector factory.

Typical use::

    from facetrust.models import create_detector
    detector = create_detector("default")          # bundled weights, checksum-verified
    probs = detector.predict_proba(face_crops)      # (N, H, W, 3) uint8 RGB → (N,) fake probabilities
"""

from facetrust.models.architectures import (
    ARCHITECTURES,
    NATIVE_INPUT_SIZES,
    ArchitectureInfo,
    architecture_info,
    list_architectures,
    register_architecture,
)
from facetrust.models.ensemble import EnsembleDetector, EnsembleSpec, fit_stacking, save_ensemble
from facetrust.models.factory import (
    BUNDLED_WEIGHTS_DIR,
    DEFAULT_DETECTOR,
    DETECTOR_ALIASES,
    Detector,
    DetectorInfo,
    build_model,
    create_detector,
    list_detectors,
    resolve_detector,
)
from facetrust.models.imagenet import IMAGENET_NORMALISATION, load_imagenet_weights
from facetrust.models.weights import check_spec, load_detector_files, read_spec, save_detector, sha256_file

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
