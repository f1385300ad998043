"""Training-time augmentations of face crops (albumentations), applied identically to a group of images.

A group is a clip's frames or a (real, fake) pair: one set of transform parameters is sampled per call and
applied to every image, so temporal consistency and pair alignment hold. The parameters come from the
caller's ``numpy`` generator (one integer drawn per call), so a seeded generator gives the same output.

Policies (see :data:`POLICIES`; every transform keeps the crop size):

* ``"none"``: identity, albumentations is not called (not even imported).
* ``"light"``: flip, a small affine, brightness/contrast, mild JPEG.
* ``"light_sharpen"``: ``"light"`` plus an unsharp mask (p = 0.3), given to both classes, so that a
  whole-face member cannot take "sharper than most training reals" for "fake": real video is sharpened by
  cameras, phones and TV chains too.
* ``"standard"``: flip, affine (rotation ±10°, shear ±5°, scale ±5 %, shift ±4 %), colour
  (brightness/contrast, hue/saturation, RGB shift), blur (Gaussian or motion), Gaussian noise, JPEG.
  Blending artefacts of face swaps are subtle (a soft seam, a colour or sharpness mismatch a few pixels
  wide), so blur and noise are weak (kernels ≤ 5 px, noise σ ≤ 3 % of 255) and rare (p = 0.15): strong
  ones would erase the very cue the detector must learn, and heavier degradations are the job of
  :mod:`facetrust.synthesis.degrade`, which the dataset applies to both classes anyway.

``clahe=True`` adds CLAHE (local contrast equalisation, p = 0.25) after the geometric transforms; it is
an augmentation, not a preprocessing step, so inference does not need it.
"""

from __future__ import annotations

import copy
import logging
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facetrust.errors import ConfigError, DependencyError, InputError, UnknownNameError

logger = logging.getLogger(__name__)

# A step is {"transform": <albumentations class name>, "p": float, "params": {...}}
# or {"one_of": [steps], "p": float} (exactly one of the inner steps is picked, by their own p as weight).
Step = Mapping[str, Any]

_AFFINE_BORDER = cv2.BORDER_REFLECT_101  # no black corners: a hard synthetic edge the model could latch on to

POLICIES: dict[str, tuple[Step, ...]] = {
    "none": (),
    "light": (
        {"transform": "HorizontalFlip", "p": 0.5, "params": {}},
        {
            "transform": "Affine",
            "p": 0.3,
            "params": {
                "rotate": (-5.0, 5.0),
                "scale": (0.97, 1.03),
                "translate_percent": (-0.02, 0.02),
                "border_mode": _AFFINE_BORDER,
            },
        },
        {
            "transform": "RandomBrightnessContrast",
            "p": 0.3,
            "params": {"brightness_limit": 0.1, "contrast_limit": 0.1},
        },
        {"transform": "ImageCompression", "p": 0.2, "params": {"quality_range": (75, 100)}},
    ),
    "standard": (
        {"transform": "HorizontalFlip", "p": 0.5, "params": {}},
        {
            "transform": "Affine",
            "p": 0.5,
            "params": {
                "rotate": (-10.0, 10.0),
                "shear": (-5.0, 5.0),
                "scale": (0.95, 1.05),
                "translate_percent": (-0.04, 0.04),
                "border_mode": _AFFINE_BORDER,
            },
        },
        {
            "transform": "RandomBrightnessContrast",
            "p": 0.4,
            "params": {"brightness_limit": 0.15, "contrast_limit": 0.15},
        },
        {
            "transform": "HueSaturationValue",
            "p": 0.3,
            "params": {"hue_shift_limit": 5, "sat_shift_limit": 15, "val_shift_limit": 10},
        },
        {
            "transform": "RGBShift",
            "p": 0.2,
            "params": {"r_shift_limit": 10, "g_shift_limit": 10, "b_shift_limit": 10},
        },
        {
            "one_of": [
                {
                    "transform": "GaussianBlur",
                    "p": 1.0,
                    "params": {"blur_limit": (3, 5), "sigma_limit": (0.2, 1.0)},
                },
                {"transform": "MotionBlur", "p": 1.0, "params": {"blur_limit": (3, 5)}},
            ],
            "p": 0.15,
        },
        {"transform": "GaussNoise", "p": 0.15, "params": {"std_range": (0.005, 0.03)}},
        {"transform": "ImageCompression", "p": 0.3, "params": {"quality_range": (60, 100)}},
    ),
}

POLICIES["light_sharpen"] = (
    *POLICIES["light"][:-1],
    {"transform": "UnsharpMask", "p": 0.3, "params": {"blur_limit": (3, 7), "alpha": (0.2, 0.7)}},
    POLICIES["light"][-1],  # JPEG last, as a camera or upload would
)

CLAHE_STEP: Step = {
    "transform": "CLAHE",
    "p": 0.25,
    "params": {"clip_limit": (1.0, 2.0), "tile_grid_size": (8, 8)},
}


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentation policy the trainer uses (a name from :data:`POLICIES`) and whether CLAHE is added."""

    policy: str = "none"
    clahe: bool = False

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise UnknownNameError("augmentation policy", str(self.policy), POLICIES)
        if not isinstance(self.clahe, bool):
            raise ConfigError(f"clahe must be true or false, got {self.clahe!r}")


def _steps(config: AugmentConfig) -> list[Step]:
    """The policy's steps, with CLAHE inserted after the geometric ones (flip, affine) when asked."""
    steps = list(POLICIES[config.policy])
    if config.clahe:
        geometric = sum(1 for step in steps if step.get("transform") in ("HorizontalFlip", "Affine"))
        steps.insert(geometric, CLAHE_STEP)
    return steps


def _plain(value: Any) -> Any:
    """Tuples → lists, recursively, so ``describe()`` is JSON/YAML friendly."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _import_albumentations() -> Any:
    # albumentations checks PyPI for a newer version on import unless told not to: no network from a library
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    try:
        import albumentations
    except ImportError as exc:
        raise DependencyError(
            "augmentation policies other than 'none' need albumentations: pip install 'facetrust[train]'"
        ) from exc
    return albumentations


def _build(alb: Any, step: Step) -> Any:
    if "one_of" in step:
        return alb.OneOf([_build(alb, inner) for inner in step["one_of"]], p=step["p"])
    return getattr(alb, step["transform"])(**step["params"], p=step["p"])


class Augmenter:
    """Applies one sampled set of transform parameters to every image of a group (uint8 RGB, same shape)."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config
        self._steps = _steps(config)
        self._compose: Any = None
        if self._steps:
            alb = _import_albumentations()
            # strict=True: a misspelt transform argument fails here instead of being ignored with a warning
            self._compose = alb.Compose([_build(alb, step) for step in self._steps], strict=True)
            logger.debug("augmenter %s built: %s", config, self._compose)

    def __call__(self, images: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Return new uint8 contiguous arrays, one per input, all transformed with the same parameters.

        Exactly one integer is drawn from ``rng`` per call (none for policy ``"none"`` without CLAHE)."""
        if len(images) == 0:
            return []
        shape = images[0].shape
        for image in images:
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.shape != shape:
                raise InputError(
                    f"augmentation needs uint8 (H, W, 3) images of one shape, got {image.dtype} {image.shape} "
                    f"(first image: {shape})"
                )
        if self._compose is None:
            return [np.array(image, order="C") for image in images]
        seed = int(rng.integers(0, 2**32))
        # One generator pair shared by all transforms. (Compose(seed=...) / set_random_seed would give each
        # transform its own generator with the same seed, which correlates their "apply or not" draws.)
        self._compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        batch = self._compose(images=np.stack(images))["images"]
        if batch.shape != (len(images), *shape) or batch.dtype != np.uint8:  # pragma: no cover - a policy bug
            raise ConfigError(
                f"policy {self.config.policy!r} changed the crops to {batch.dtype} {batch.shape}"
            )
        return [np.ascontiguousarray(frame) for frame in batch]

    def describe(self) -> dict[str, Any]:
        """The policy, its transforms and their parameters, as a plain dict (for provenance / model card)."""
        info: dict[str, Any] = {"policy": self.config.policy, "clahe": self.config.clahe}
        if self._compose is not None:
            info["library"] = f"albumentations {_import_albumentations().__version__}"
        info["transforms"] = _plain(copy.deepcopy(self._steps))
        return info

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}  # rebuilt on load: workers get fresh transforms, not pickled internals

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Augmenter({self.config!r})"


def build_augmenter(config: AugmentConfig) -> Augmenter | None:
    """The augmenter for ``config``, or ``None`` when it would do nothing (policy ``"none"`` without CLAHE)."""
    if config.policy == "none" and not config.clahe:
        return None
    return Augmenter(config)
