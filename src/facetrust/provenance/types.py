"""What a file's provenance metadata says: the :class:`Provenance` section of a report.

Light on purpose (stdlib only): :mod:`facetrust.report` imports it, and ``import facetrust`` must stay fast."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProvenanceStatus(StrEnum):
    """What the provenance evidence amounts to, strongest first."""

    VERIFIED_AI_GENERATED = "verified_ai_generated"  # a valid C2PA manifest declares AI generation
    VERIFIED_CAPTURE = "verified_capture"  # a valid C2PA manifest records a capture and no edit
    VERIFIED_EDITED = "verified_edited"  # a valid C2PA manifest records edits (or creation) but no AI
    DECLARED_AI_GENERATED = "declared_ai_generated"  # unsigned XMP/IPTC metadata declares AI generation
    INVALID_OR_TAMPERED = "invalid_or_tampered"  # a C2PA manifest is present but does not validate
    NONE = "none"  # no credentials and no declaration (proves nothing)


NOT_CHECKED = "Provenance was not checked."


@dataclass(frozen=True)
class ManifestAction:
    """One action of the active C2PA manifest (``c2pa.created``, ``c2pa.edited``, ...)."""

    action: str
    digital_source_type: str | None = None  # IPTC term, e.g. "trainedAlgorithmicMedia", "digitalCapture"
    software_agent: str | None = None  # the tool the manifest says performed it


@dataclass(frozen=True)
class Ingredient:
    """A file the active manifest says this one was made from."""

    title: str | None
    relationship: str | None  # "parentOf" (edited from), "componentOf" (placed into), "inputTo"
    digital_source_types: tuple[str, ...] = ()  # what the ingredient's own credentials declare it is
    has_manifest: bool = False  # the ingredient carried Content Credentials of its own


@dataclass(frozen=True)
class Provenance:
    """Content Credentials (C2PA) and embedded declarations of one file, and what they prove.

    ``status`` sums it up; ``meaning`` says in one plain sentence what that does and does not mean. The
    C2PA fields (``validation_state`` to ``ingredients``) are empty without a readable manifest.
    ``declared_source_types`` come from unsigned XMP/IPTC metadata; ``hints`` (software tags, generator
    names, generation parameters) are hints, never proof."""

    status: ProvenanceStatus = ProvenanceStatus.NONE
    meaning: str = NOT_CHECKED
    checked: bool = False  # False: not looked at (an array, or a report made without the pipeline)
    manifest_present: bool = False
    validation_state: str | None = None  # as c2pa reports it: "Trusted", "Valid" or "Invalid"
    trusted: bool = False  # the signer's chain ends in one of the trust anchors in use
    validation_failures: tuple[str, ...] = ()  # c2pa status codes, e.g. "assertion.dataHash.mismatch"
    claim_generator: str | None = None  # the software that wrote the manifest
    signer: str | None = None  # common name of the signing certificate
    issuer: str | None = None  # organisation named in the signing certificate
    signed_at: str | None = None  # time-stamped signing time, when the manifest has one
    actions: tuple[ManifestAction, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    declared_source_types: tuple[str, ...] = ()  # unsigned Iptc4xmpExt:DigitalSourceType values
    hints: tuple[str, ...] = ()  # generator names, generation parameters: hints, never proof
    software: tuple[str, ...] = ()  # software tags as written (EXIF Software, xmp:CreatorTool, encoder)
    trust_anchors: str = "none"  # which anchors the chain was checked against
    notes: tuple[str, ...] = ()  # what could not be checked, and why

    @property
    def ai_declared(self) -> bool:
        """Whether a valid manifest or unsigned metadata declares the media AI-generated."""
        return self.status in (ProvenanceStatus.VERIFIED_AI_GENERATED, ProvenanceStatus.DECLARED_AI_GENERATED)

    def short(self) -> str:
        """A few words for a result line, e.g. ``"verified_ai_generated, signed by Acme (untrusted)"``;
        ``""`` when there is nothing to say (status none and no hint)."""
        if self.status is ProvenanceStatus.NONE:
            return f"none, hint: {self.hints[0]}" if self.hints else ""
        words = str(self.status)
        if self.status is ProvenanceStatus.INVALID_OR_TAMPERED:  # a broken manifest's signer is no fact
            return words
        if self.signer or self.issuer:
            words += f", signed by {self.signer or self.issuer}"
        if self.manifest_present:
            words += " (trusted)" if self.trusted else " (untrusted)"
        return words


__all__ = ["NOT_CHECKED", "Ingredient", "ManifestAction", "Provenance", "ProvenanceStatus"]
