"""The one interface every explanation method implements, its registry, and map normalisation (no torch).

A method gets a :class:`~facetrust.explain.target.ExplainTarget` (a torch detector made ready to explain),
the *window* of face crops the model reads (one crop for a frame model; T consecutive crops of the person
for a clip model) and the *position* of the face being explained in that window. It returns an
:class:`Attribution`: an ``(S, S)`` map in [0, 1] over that face's crop, S the model's input size, where
high means "pushed the fake logit up".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from facetrust.errors import ConfigError, UnknownNameError
from facetrust.registry import Registry

if TYPE_CHECKING:
    from facetrust.explain.target import ExplainTarget


@dataclass(frozen=True)
class Attribution:
    """What a method found for one face: the map, and (attention only) the clip model's frame weights."""

    heatmap: np.ndarray  # (S, S) float32 in [0, 1]
    frame_weights: np.ndarray | None = field(default=None)  # (T,) weights over the window's frames


class Explainer(ABC):
    """One explanation method. Subclasses set ``name``, the ``defaults`` of their options and
    :meth:`attribute`; options are checked once, when the explainer is made."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    slow: ClassVar[bool] = False  # opt-in methods that take seconds per face (LIME, SHAP)

    def __init__(self, **options: Any) -> None:
        for key in options:
            if key not in self.defaults:
                raise UnknownNameError(f"option of method {self.name!r}", key, self.defaults)
        self.options = {**self.defaults, **options}  # rightmost wins
        for key, value in self.options.items():
            default = self.defaults[key]
            least = 0 if key == "seed" else 1
            if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise ConfigError(f"method {self.name!r}: {key} must be an integer >= {least}, got {value!r}")

    @abstractmethod
    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        """The map of face ``window[position]`` for ``target``'s fake logit."""


EXPLAINERS: Registry[type[Explainer]] = Registry(
    "explanation method",
    locations=("facetrust.explain.cam", "facetrust.explain.attribution", "facetrust.explain.perturbation",
               "facetrust.explain.attention"),
)
"""method name → :class:`Explainer` class; a miss raises :class:`UnknownNameError` with close names."""


def min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the map's own range; a flat map gives zeros (nothing stands out)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32))
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return np.zeros_like(values)
    return ((values - low) / (high - low)).astype(np.float32)


def by_percentile(values: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Non-negative ``values`` divided by their ``percentile``-th percentile and clipped to [0, 1]: gradient
    maps have a few extreme pixels, and this keeps them from flattening the rest. All zeros stay zeros."""
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, None)
    scale = float(np.percentile(values, percentile))
    if scale <= 1e-12:
        scale = float(values.max())
    if scale <= 1e-12:
        return np.zeros_like(values)
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


__all__ = ["EXPLAINERS", "Attribution", "Explainer", "by_percentile", "min_max"]
