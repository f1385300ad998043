"""Which certificates a C2PA signature may chain to: none by default, or a PEM bundle the user supplies.

Nothing is fetched: no trust list is downloaded and no certificate status (OCSP) is asked for, so a check
gives the same answer offline and online."""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path

from facetrust.errors import ConfigError

TRUST_ANCHORS_ENV = "FACETRUST_TRUST_ANCHORS"  # path of a PEM bundle of root certificates to trust
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates (PEM) a signer's chain must end in to count as trusted, and how to name them."""

    pem: str | None = None  # None: no anchor, every signer is untrusted
    description: str = "none"

    @property
    def count(self) -> int:
        return 0 if self.pem is None else self.pem.count(_PEM_BEGIN)


NO_TRUST_ANCHORS = TrustAnchors()


def load_trust_anchors(path: str | os.PathLike[str] | None = None) -> TrustAnchors:
    """The anchors in ``path``, else in the file named by ``$FACETRUST_TRUST_ANCHORS``, else none.

    Raises:
        ConfigError: the file is missing, unreadable, or holds no PEM certificate.
    """
    origin = "trust anchors"
    if path is None:
        value = os.environ.get(TRUST_ANCHORS_ENV, "").strip()
        if not value:
            return NO_TRUST_ANCHORS
        path, origin = value, f"${TRUST_ANCHORS_ENV}"
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read {file}: {exc.strerror or exc}") from exc
    if _PEM_BEGIN not in text:
        raise ConfigError(f"{origin}: {file} holds no PEM certificate ('{_PEM_BEGIN}' block)")
    for k, block in enumerate(_PEM_BLOCK.findall(text), start=1):
        if not _is_der_sequence(block):
            raise ConfigError(f"{origin}: certificate {k} in {file} is damaged (not base64 DER)")
    anchors = TrustAnchors(pem=text, description="")
    plural = "s" if anchors.count != 1 else ""
    return TrustAnchors(pem=text, description=f"{file} ({anchors.count} certificate{plural})")


def _is_der_sequence(block: str) -> bool:
    """Whether a PEM body decodes to one complete DER SEQUENCE (what every X.509 certificate is); c2pa
    would otherwise skip a damaged anchor silently and call every signer untrusted."""
    try:
        der = base64.b64decode("".join(block.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(der) < 2 or der[0] != 0x30:
        return False
    if der[1] < 0x80:
        return 2 + der[1] == len(der)
    width = der[1] & 0x7F
    return 0 < width <= 4 and 2 + width + int.from_bytes(der[2 : 2 + width], "big") == len(der)
