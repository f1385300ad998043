"""One file's provenance evidence, summed up: :func:`check_provenance` and the verdict rule.

Precedence: a C2PA manifest that is present decides the status (valid → ``verified_*``, broken →
``invalid_or_tampered``); without one, an unsigned XMP/IPTC AI declaration gives ``declared_ai_generated``;
else ``none``. Hints never change the status."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from facetrust.provenance.credentials import CredentialFindings, ManifestSummary, read_credentials
from facetrust.provenance.embedded import EmbeddedFindings, read_embedded
from facetrust.provenance.trust import TRUST_ANCHORS_ENV, TrustAnchors, load_trust_anchors
from facetrust.provenance.types import ManifestAction, Provenance, ProvenanceStatus
from facetrust.provenance.vocabulary import NON_EDITORIAL_ACTIONS, is_ai_source_type, is_capture_source_type

logger = logging.getLogger(__name__)

NOTHING_PROVEN = ("Missing credentials prove nothing: most files carry none, and sharing sites and editors "
                  "often strip them.")
_FAILURE_WORDS = {  # c2pa status codes → what they mean, for the sentence
    "assertion.dataHash.mismatch": "the file's bytes changed after signing",
    "assertion.bmffHash.mismatch": "the video's bytes changed after signing",
    "assertion.boxesHash.mismatch": "the file's bytes changed after signing",
    "assertion.hashedURI.mismatch": "an assertion changed after signing",
    "claimSignature.mismatch": "the signature does not match the claim",
    "signingCredential.invalid": "the signing certificate is invalid",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.revoked": "the signing certificate is revoked",
}
_VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                             ".3gp", ".ts", ".mts", ".m2ts", ".ogv"})


def not_checked(reason: str) -> Provenance:
    """Status ``none`` for a source that was not looked at (an array has no file metadata)."""
    return Provenance(meaning=f"Provenance not checked: {reason}.", notes=(reason,))


def check_provenance(
    source: str | os.PathLike[str],
    *,
    media_kind: str | None = None,
    trust_anchors: str | os.PathLike[str] | TrustAnchors | None = None,
) -> Provenance:
    """Read the Content Credentials (C2PA) and embedded AI declarations of one image or video, offline.

    Args:
        source: the file's path.
        media_kind: ``"image"`` or ``"video"``; guessed from the suffix when None.
        trust_anchors: a PEM bundle (path) of root certificates to trust, or loaded :class:`TrustAnchors`;
            None reads ``$FACETRUST_TRUST_ANCHORS`` and, if unset, trusts nothing.

    Returns:
        A :class:`Provenance`: status, the manifest's fields, declarations, hints, and one sentence of what
        they mean. A missing ``c2pa`` package or an unsupported format is a note, not an error.

    Raises:
        ConfigError: the trust anchors cannot be read or are not certificates.
    """
    path = Path(source)
    anchors = trust_anchors if isinstance(trust_anchors, TrustAnchors) else load_trust_anchors(trust_anchors)
    kind = media_kind or ("video" if path.suffix.lower() in _VIDEO_SUFFIXES else "image")
    embedded = read_embedded(path, kind)
    if embedded.c2pa_marker or path.suffix.lower() not in _C2PA_FORMATS or might_hold_credentials(path):
        credentials = read_credentials(path, anchors)
    else:  # a format c2pa reads, without a byte it would look for: skip loading it (~0.05 s a process)
        credentials = CredentialFindings()
    return combine(credentials, embedded, anchors)


_C2PA_FORMATS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff",
                           ".heic", ".heif", ".avif", ".jxl"})  # others go to c2pa, which names them unsupported
_CREDENTIAL_MARKS = (b"c2pa", b"provenance")  # the manifest store's JUMBF label / C2PA UUID, a remote reference


def might_hold_credentials(path: Path) -> bool:
    """Whether ``path`` holds any byte string c2pa looks for: an embedded manifest store always carries
    ``c2pa`` (its JUMBF label and UUID), a remote one is referenced from XMP ``dcterms:provenance``. Searches
    the whole file through a memory map (a few milliseconds for a 20-MB video); an unreadable file is left
    to c2pa, which says why."""
    import mmap

    try:
        with open(path, "rb") as handle:
            if handle.seek(0, 2) == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return any(data.find(mark) >= 0 for mark in _CREDENTIAL_MARKS)
    except (OSError, ValueError):
        return True


def combine(credentials: CredentialFindings, embedded: EmbeddedFindings, anchors: TrustAnchors) -> Provenance:
    """The status and sentence from what the manifest and the unsigned metadata say."""
    notes = list(embedded.notes)
    common = {
        "checked": True, "declared_source_types": embedded.declared_source_types,
        "hints": embedded.hints, "software": embedded.software, "trust_anchors": anchors.description,
    }
    summary = credentials.summary
    if summary is not None:
        status = _manifest_status(summary)
        fields = {
            "manifest_present": True, "validation_state": summary.validation_state, "trusted": summary.trusted,
            "validation_failures": summary.failures, "claim_generator": summary.claim_generator,
            "signer": summary.signer, "issuer": summary.issuer, "signed_at": summary.signed_at,
            "actions": summary.actions, "ingredients": summary.ingredients,
        }
        meaning = _manifest_meaning(status, summary, anchors, embedded)
        return Provenance(status=status, meaning=meaning, notes=tuple(notes), **fields, **common)
    if credentials.present or (credentials.checked and credentials.note and embedded.c2pa_marker):
        error = credentials.error or credentials.note or "unreadable"
        meaning = (f"A C2PA manifest is present but cannot be read ({error}): it is damaged, or was altered or "
                   f"forged, so none of its claims can be relied on. This alone does not show that the faces "
                   f"were altered.")
        return Provenance(status=ProvenanceStatus.INVALID_OR_TAMPERED, meaning=meaning, manifest_present=True,
                          validation_failures=(error,), notes=tuple(notes), **common)
    if credentials.note:
        if embedded.c2pa_marker and not credentials.checked:
            notes.append(f"a C2PA manifest seems present but was not validated ({credentials.note})")
        else:
            notes.append(credentials.note)
    ai_declared = [t for t in embedded.declared_source_types if is_ai_source_type(t)]
    if ai_declared:
        meaning = (f"Unsigned metadata (XMP Iptc4xmpExt:DigitalSourceType = {', '.join(ai_declared)}) declares "
                   f"this file AI-generated. Anyone can write or remove such metadata: it is a declaration, not "
                   f"proof, and it does not change the verdict.")
        return Provenance(status=ProvenanceStatus.DECLARED_AI_GENERATED, meaning=meaning, notes=tuple(notes),
                          **common)
    meaning = "No Content Credentials and no AI declaration found. " + NOTHING_PROVEN
    if embedded.hints:
        meaning += f" Hints (not proof): {'; '.join(embedded.hints)}."
    if notes:
        meaning += f" Note: {'; '.join(notes)}."
    return Provenance(status=ProvenanceStatus.NONE, meaning=meaning, notes=tuple(notes), **common)


def _manifest_status(summary: ManifestSummary) -> ProvenanceStatus:
    if not summary.valid:
        return ProvenanceStatus.INVALID_OR_TAMPERED
    if _ai_terms(summary):
        return ProvenanceStatus.VERIFIED_AI_GENERATED
    edits = [a for a in summary.actions if a.action not in NON_EDITORIAL_ACTIONS]
    sources = [a.digital_source_type for a in summary.actions if a.digital_source_type]
    sources += [t for i in summary.ingredients if i.relationship == "parentOf" for t in i.digital_source_types]
    if not edits and sources and all(is_capture_source_type(t) for t in sources):
        return ProvenanceStatus.VERIFIED_CAPTURE
    return ProvenanceStatus.VERIFIED_EDITED


def _ai_terms(summary: ManifestSummary) -> list[str]:
    """AI source types the manifest declares, for the file itself or any ingredient, with where."""
    terms = [f"{a.digital_source_type} ({a.action})" for a in summary.actions
             if a.digital_source_type and is_ai_source_type(a.digital_source_type)]
    terms += [f"{t} (ingredient {i.title or '?'})" for i in summary.ingredients for t in i.digital_source_types
              if is_ai_source_type(t)]
    return terms


def _signed_by(summary: ManifestSummary) -> str:
    who = summary.signer or "an unnamed signer"
    if summary.issuer and summary.issuer != summary.signer:
        who += f" ({summary.issuer})"
    return who


def _trust_sentence(summary: ManifestSummary, anchors: TrustAnchors) -> str:
    if summary.trusted:
        return f"The signing certificate chains to a trust anchor in use ({anchors.description})."
    if anchors.pem is None:
        return (f"Valid but untrusted: no trust anchors are in use (none by default; set ${TRUST_ANCHORS_ENV} or "
                f"--trust-anchors to a PEM bundle), so the signature shows only that the file is unchanged "
                f"since whoever holds this certificate signed it; anyone can make such a certificate.")
    return (f"Valid but untrusted: the certificate does not chain to the trust anchors in use "
            f"({anchors.description}); anyone can make such a certificate.")


def _agents(actions: tuple[ManifestAction, ...]) -> str:
    agents = list(dict.fromkeys(a.software_agent for a in actions if a.software_agent))
    return f" with {', '.join(agents)}" if agents else ""


def _manifest_meaning(status: ProvenanceStatus, summary: ManifestSummary, anchors: TrustAnchors,
                      embedded: EmbeddedFindings) -> str:
    signed = f"signed by {_signed_by(summary)}"
    if status is ProvenanceStatus.INVALID_OR_TAMPERED:
        problems = [_FAILURE_WORDS.get(code, code) for code in summary.failures if code != "signingCredential.untrusted"]
        return (f"A C2PA manifest naming {_signed_by(summary)} as signer is present but does not validate "
                f"({'; '.join(problems) or 'invalid'}): "
                f"the file was changed after signing, or the manifest is damaged or forged, so none of its claims "
                f"can be relied on. This alone does not show that the faces were altered.")
    trust = _trust_sentence(summary, anchors)
    if status is ProvenanceStatus.VERIFIED_AI_GENERATED:
        raised = ("Because the chain is trusted, this raises the verdict to FAKE." if summary.trusted else
                  "Because the chain is untrusted, it does not change the verdict.")
        return (f"A valid C2PA manifest {signed} declares AI-generated content: {', '.join(_ai_terms(summary))}"
                f"{_agents(summary.actions)}. {trust} {raised} It proves what the signer declared, not which parts "
                f"of the image are synthetic.")
    actions = ", ".join(dict.fromkeys(a.action for a in summary.actions)) or "no actions"
    if status is ProvenanceStatus.VERIFIED_CAPTURE:
        return (f"A valid C2PA manifest {signed} records a capture ({actions}{_agents(summary.actions)}) and no "
                f"edit. {trust} It shows the file is unchanged since signing, not that the scene in front of the "
                f"camera was genuine; it never lowers the detector's fake probability.")
    unsigned = [t for t in embedded.declared_source_types if is_ai_source_type(t)]
    extra = (f" Unsigned metadata also declares {', '.join(unsigned)} (a declaration, not proof)."
             if unsigned else "")
    return (f"A valid C2PA manifest {signed} records how the file was made or changed ({actions}"
            f"{_agents(summary.actions)}) and declares no AI generation. {trust} Edits made outside "
            f"credential-aware software leave no record, so this does not show the faces are unaltered.{extra}")


def verdict_raise_reason(provenance: Provenance) -> str | None:
    """Why provenance raises the verdict to FAKE, or None when it does not.

    Only a **trusted** C2PA manifest that validates (signature, hash binding, and a chain to a trust anchor
    in use) and declares AI-generated content raises the verdict. A valid but untrusted manifest does not:
    anyone can sign a real photo with a self-made certificate and call it AI. Provenance never lowers a fake
    probability and never turns FAKE into REAL."""
    if provenance.status is not ProvenanceStatus.VERIFIED_AI_GENERATED or not provenance.trusted:
        return None
    declared = [a.digital_source_type for a in provenance.actions
                if a.digital_source_type and is_ai_source_type(a.digital_source_type)]
    declared += [t for i in provenance.ingredients for t in i.digital_source_types if is_ai_source_type(t)]
    return (f"a trusted C2PA manifest signed by {provenance.signer or provenance.issuer or 'an unnamed signer'} "
            f"declares AI-generated content ({', '.join(dict.fromkeys(declared))})")
