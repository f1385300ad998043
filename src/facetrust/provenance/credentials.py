"""Content Credentials (C2PA): read and validate a file's manifest store with ``c2pa-python``, offline.

``c2pa`` is an optional extra (``facetrust[provenance]``) and is imported on the first file checked, never
at ``import facetrust``. Without it, :func:`read_credentials` says so in a note instead of failing."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError
from facetrust.provenance.trust import TrustAnchors
from facetrust.provenance.types import Ingredient, ManifestAction
from facetrust.provenance.vocabulary import source_type_term

logger = logging.getLogger(__name__)

NOT_INSTALLED = "C2PA not checked: the c2pa package is not installed (pip install 'facetrust[provenance]')"
UNTRUSTED_CODE = "signingCredential.untrusted"


def offline_settings(anchors: TrustAnchors) -> dict[str, Any]:
    """c2pa settings that validate signature, hash binding and chain without touching the network: no
    remote manifest, no OCSP, no host allowed at all; the chain is checked against ``anchors`` only."""
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "ocsp_fetch": False,
            "remote_manifest_fetch": False,
        },
        "core": {"allowed_network_hosts": []},  # a second lock: any fetch that slips through is refused
    }
    if anchors.pem is not None:
        settings["trust"] = {"trust_anchors": anchors.pem}
    return settings


@dataclass(frozen=True)
class ManifestSummary:
    """The parts of a C2PA manifest store a reader of the report needs."""

    validation_state: str  # "Trusted", "Valid" or "Invalid"
    failures: tuple[str, ...]  # status codes of what failed (signingCredential.untrusted included)
    claim_generator: str | None
    signer: str | None
    issuer: str | None
    signed_at: str | None
    actions: tuple[ManifestAction, ...]
    ingredients: tuple[Ingredient, ...]

    @property
    def valid(self) -> bool:
        """Signature and hash binding hold (the chain may still be untrusted)."""
        return self.validation_state in ("Valid", "Trusted")

    @property
    def trusted(self) -> bool:
        return self.validation_state == "Trusted"


@dataclass(frozen=True)
class CredentialFindings:
    """What reading the C2PA manifest store of one file gave."""

    present: bool = False  # a manifest store was found (readable or not)
    summary: ManifestSummary | None = None  # None when absent or unreadable
    error: str | None = None  # why a present manifest could not be read
    note: str | None = None  # why no manifest could be read (no c2pa, unsupported format, remote, damage)
    checked: bool = True  # False: c2pa did not look at the file (not installed, format unsupported, ...)


def read_credentials(path: Path, anchors: TrustAnchors) -> CredentialFindings:
    """Read and validate the C2PA manifest store embedded in ``path``, offline.

    Raises:
        ConfigError: c2pa rejects the trust anchors (not a certificate it can parse).
    """
    try:
        import c2pa
    except ImportError:
        return CredentialFindings(note=NOT_INSTALLED, checked=False)
    try:
        context = c2pa.Context.from_dict(offline_settings(anchors))
    except c2pa.C2paError as exc:
        raise ConfigError(f"c2pa rejects the trust anchors {anchors.description}: {exc}") from exc
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(None, stream, context=context)
            if reader is None:
                return CredentialFindings()
            with reader:
                store = json.loads(reader.json())
    except OSError as exc:
        return CredentialFindings(note=f"C2PA not checked: cannot read the file ({exc.strerror or exc})",
                                  checked=False)
    except c2pa.C2paError as exc:
        return _from_error(exc)
    try:
        return CredentialFindings(present=True, summary=summarize(store))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a store shaped unlike the spec
        logger.debug("unexpected manifest store layout in %s", path, exc_info=True)
        return CredentialFindings(present=True, error=f"the manifest store is malformed ({type(exc).__name__}: {exc})")


_MANIFEST_ERRORS = frozenset({"Decoding", "Manifest", "Signature", "Verify", "Assertion", "AssertionNotFound",
                              "Json", "Encoding", "ResourceNotFound"})


def _from_error(exc: Exception) -> CredentialFindings:
    """Sort a c2pa error: a manifest that is present but broken, or a file c2pa could not check."""
    message = str(exc)
    kind = message.split(":", 1)[0].strip()
    if kind in _MANIFEST_ERRORS:
        return CredentialFindings(present=True, error=message)
    if kind == "NotSupported":
        return CredentialFindings(note="C2PA not checked: c2pa cannot read this file format", checked=False)
    if kind in ("Remote", "RemoteManifest"):
        return CredentialFindings(note="the file points to a remote C2PA manifest, which is not fetched (offline "
                                       "by design): its credentials were not checked", checked=False)
    if kind in ("Io", "FileNotFound"):
        return CredentialFindings(note=f"C2PA not checked: {message}", checked=False)
    return CredentialFindings(note=f"c2pa could not read the file: {message}")  # e.g. a damaged container


def summarize(store: dict[str, Any]) -> ManifestSummary:
    """The report's view of a c2pa manifest store (``Reader.json()``, parsed)."""
    manifests: dict[str, Any] = store.get("manifests") or {}
    label = store.get("active_manifest")
    if not label or label not in manifests:
        raise ValueError("the manifest store names no active manifest")
    active = manifests[label]
    failures = tuple(str(s.get("code")) for s in store.get("validation_status") or [] if s.get("code"))
    state = store.get("validation_state")
    if state not in ("Trusted", "Valid", "Invalid"):  # older c2pa: derive it from the failure codes
        state = "Invalid" if any(code != UNTRUSTED_CODE for code in failures) else "Valid"
    signature = active.get("signature_info") or {}
    return ManifestSummary(
        validation_state=state,
        failures=failures,
        claim_generator=_claim_generator(active),
        signer=signature.get("common_name"),
        issuer=signature.get("issuer"),
        signed_at=signature.get("time"),
        actions=tuple(_actions(active)),
        ingredients=tuple(_ingredients(active, manifests)),
    )


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    if infos and isinstance(infos[0], dict) and infos[0].get("name"):
        info = infos[0]
        return f"{info['name']} {info['version']}" if info.get("version") else str(info["name"])
    generator = manifest.get("claim_generator")  # C2PA 1.x: a user-agent-like string
    return str(generator) if generator else None


def _actions(manifest: dict[str, Any]) -> list[ManifestAction]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            source = action.get("digitalSourceType") or (action.get("parameters") or {}).get("digitalSourceType")
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or None
            found.append(ManifestAction(
                action=str(action.get("action", "")),
                digital_source_type=source_type_term(str(source)) if source else None,
                software_agent=str(agent) if agent else None,
            ))
    return found


def _ingredients(manifest: dict[str, Any], manifests: dict[str, Any], seen: frozenset[str] = frozenset()
                 ) -> list[Ingredient]:
    found = []
    for item in manifest.get("ingredients") or []:
        terms: list[str] = []
        own = item.get("digital_source_type") or item.get("digitalSourceType")
        if own:
            terms.append(source_type_term(str(own)))
        label = item.get("active_manifest")
        if label in manifests and label not in seen:  # what the ingredient's own credentials declare
            terms += [a.digital_source_type for a in _actions(manifests[label]) if a.digital_source_type]
            terms += [t for sub in _ingredients(manifests[label], manifests, seen | {label})
                      for t in sub.digital_source_types]
        found.append(Ingredient(
            title=item.get("title"),
            relationship=item.get("relationship"),
            digital_source_types=tuple(dict.fromkeys(terms)),
            has_manifest=label in manifests,
        ))
    return found
