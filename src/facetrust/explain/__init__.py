"""Explanations: why the detector called a face fake, as heatmaps over the face crops it scored.

    >>> import facetrust.explain as fx
    >>> faces = fx.explain("clip.mp4", method="gradcam", faces_per_person=3)   # doctest: +SKIP
    >>> faces[0].is_evidence, faces[0].member                                    # doctest: +SKIP
    (True, 'sbi_families_lite0')
    >>> PIL.Image.fromarray(faces[0].panel()).save("face.png")                  # doctest: +SKIP

Methods (:func:`list_methods`): ``gradcam``, ``gradcam++``, ``feature_maps`` (:mod:`.cam`), ``saliency``,
``integrated_gradients`` (:mod:`.attribution`), ``lime``, ``shap`` (:mod:`.perturbation`, slow, opt-in) and
``attention`` (:mod:`.attention`, clip models). Each is an :class:`Explainer` in the :data:`EXPLAINERS`
registry. Importing this package does not import torch; explaining does. See docs/explanations.md.
"""

from facetrust.explain.api import (
    analyze_and_explain,
    deciding_member,
    explain,
    list_methods,
    make_explainer,
    suspicious_faces,
)
from facetrust.explain.base import EXPLAINERS, Attribution, Explainer
from facetrust.explain.records import FaceExplanation, SuspiciousFace

__all__ = [
    "EXPLAINERS",
    "Attribution",
    "Explainer",
    "FaceExplanation",
    "SuspiciousFace",
    "analyze_and_explain",
    "deciding_member",
    "explain",
    "list_methods",
    "make_explainer",
    "suspicious_faces",
]
