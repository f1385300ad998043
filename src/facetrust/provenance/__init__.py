"""Provenance evidence beside the verdict: Content Credentials (C2PA) and embedded AI declarations.

>>> from facetrust.provenance import check_provenance
>>> p = check_provenance("photo.jpg")                  # doctest: +SKIP
>>> p.status, p.meaning                                # doctest: +SKIP
('verified_ai_generated', 'A valid C2PA manifest signed by ... declares AI-generated content ...')

The pipeline calls :func:`check_provenance` next to detection, never instead of it. Everything is read
offline; ``c2pa`` (the ``facetrust[provenance]`` extra) is imported on the first file checked."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from facetrust.provenance.types import Ingredient, ManifestAction, Provenance, ProvenanceStatus

if TYPE_CHECKING:
    from facetrust.provenance.check import check_provenance, not_checked, verdict_raise_reason
    from facetrust.provenance.trust import TRUST_ANCHORS_ENV, TrustAnchors, load_trust_anchors

# ``facetrust.report`` imports the types above at ``import facetrust``; the readers load on first use
_LAZY = {
    "check_provenance": "facetrust.provenance.check",
    "not_checked": "facetrust.provenance.check",
    "verdict_raise_reason": "facetrust.provenance.check",
    "TRUST_ANCHORS_ENV": "facetrust.provenance.trust",
    "TrustAnchors": "facetrust.provenance.trust",
    "load_trust_anchors": "facetrust.provenance.trust",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facetrust.provenance' has no attribute {name!r}")


__all__ = [
    "TRUST_ANCHORS_ENV",
    "Ingredient",
    "ManifestAction",
    "Provenance",
    "ProvenanceStatus",
    "TrustAnchors",
    "check_provenance",
    "load_trust_anchors",
    "not_checked",
    "verdict_raise_reason",
]
