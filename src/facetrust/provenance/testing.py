"""Make provenance fixtures at run time: a throwaway CA and signer, C2PA-signed files, XMP declarations.

For tests, benchmarks and demos only; nothing here is used by the analysis. Needs ``cryptography`` and
``c2pa`` (the ``dev`` extra). The certificates are made fresh in memory and valid for a day."""

from __future__ import annotations

import copy
import datetime
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
_PARENT_ID = "parent"
_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4",
         ".mov": "video/quicktime", ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff"}


@dataclass(frozen=True)
class TestSigner:
    """A signing certificate chain (leaf first, then its CA) and the leaf's private key, all PEM."""

    __test__ = False  # not a pytest test class

    chain_pem: bytes
    key_pem: bytes
    root_pem: bytes  # the CA: give it as a trust anchor to make the chain trusted
    common_name: str
    organization: str


def make_test_signer(common_name: str = "Facetrust Test Signer", organization: str = "Facetrust Test Org", *,
                     ocsp_url: str | None = None) -> TestSigner:
    """A fresh ES256 CA and a leaf certificate fit for C2PA signing (digitalSignature, emailProtection EKU).
    ``ocsp_url``: name this URL as the leaf's OCSP responder (to check that a reader never asks it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name(f"{organization} Root CA"))
          .issuer_name(name(f"{organization} Root CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(sign=False, ca=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_builder = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=True, ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if ocsp_url is not None:
        leaf_builder = leaf_builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    leaf = leaf_builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    return TestSigner(
        chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        root_pem=ca.public_bytes(pem),
        common_name=common_name,
        organization=organization,
    )


def actions_manifest(*actions: dict[str, Any], generator: str = "facetrust-tests") -> dict[str, Any]:
    """A manifest definition holding one ``c2pa.actions`` assertion, e.g.
    ``actions_manifest({"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"})``."""
    return {"claim_generator_info": [{"name": generator, "version": "1.0"}],
            "assertions": [{"label": "c2pa.actions", "data": {"actions": list(actions)}}]}


def sign_file(source: str | os.PathLike[str], target: str | os.PathLike[str], manifest: dict[str, Any],
              signer: TestSigner, *, parent: str | os.PathLike[str] | None = None,
              remote_url: str | None = None) -> Path:
    """Embed a C2PA manifest in a copy of ``source`` written to ``target`` (format from the suffix).
    ``parent``: a file recorded as the ``parentOf`` ingredient, opened by a ``c2pa.opened`` action put before
    the manifest's own actions (an edit of it; the manifest is :func:`actions_manifest`-shaped). ``remote_url``: store the
    manifest nowhere in the file and point to this URL instead."""
    import c2pa

    source, target = Path(source), Path(target)
    mime = _MIME[source.suffix.lower()]
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}},
                                      "verify": {"verify_after_sign": False}})
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain_pem, signer.key_pem, None)
    if parent is not None:  # an edit: the first action opens the parent ingredient
        manifest = copy.deepcopy(manifest)
        actions = manifest["assertions"][0]["data"]["actions"]
        actions.insert(0, {"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT_ID]}})
    with c2pa.Builder(manifest, context) as builder:
        if parent is not None:
            parent = Path(parent)
            with open(parent, "rb") as stream:
                builder.add_ingredient({"title": parent.name, "relationship": "parentOf", "label": _PARENT_ID},
                                       _MIME[parent.suffix.lower()], stream)
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        output = io.BytesIO()
        with open(source, "rb") as stream:
            builder.sign(c2pa.Signer.from_info(info), mime, stream, output)
    target.write_bytes(output.getvalue())
    return target


def xmp_packet(digital_source_type: str | None = None, creator_tool: str | None = None) -> bytes:
    """An XMP packet declaring an IPTC digital source type (a term or a full URI) and/or a CreatorTool."""
    attributes = ""
    if digital_source_type is not None:
        uri = digital_source_type if "/" in digital_source_type else IPTC + digital_source_type
        attributes += f' Iptc4xmpExt:DigitalSourceType="{uri}"'
    if creator_tool is not None:
        attributes += f' xmp:CreatorTool="{creator_tool}"'
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/"{attributes}/></rdf:RDF></x:xmpmeta>'
        '<?xpacket end="w"?>'
    ).encode()


def write_with_xmp(source: str | os.PathLike[str], target: str | os.PathLike[str], packet: bytes) -> Path:
    """Copy a JPEG or PNG image to ``target`` with ``packet`` embedded as its XMP (APP1 / iTXt chunk)."""
    from PIL import Image, PngImagePlugin

    source, target = Path(source), Path(target)
    with Image.open(source) as image:
        image.load()
        if target.suffix.lower() == ".png":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"))
            image.save(target, pnginfo=info)
        else:
            image.save(target, "JPEG", quality=95, xmp=packet)
    return target


def strip_metadata(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Re-encode an image's pixels only: credentials, XMP and EXIF are gone (what sharing sites do)."""
    from PIL import Image

    source, target = Path(source), Path(target)
    with Image.open(source) as image:
        clean = Image.new("RGB", image.size)
        clean.paste(image.convert("RGB"))
    clean.save(target)
    return target


def change_payload(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Copy a signed JPEG or MP4 with a few bytes of its picture data changed, its manifest left as it was:
    the pixels differ after signing (JPEG: inside the entropy-coded scan; MP4: inside ``mdat``)."""
    source, target = Path(source), Path(target)
    data = bytearray(source.read_bytes())
    if source.suffix.lower() in (".jpg", ".jpeg"):
        scan = data.rfind(b"\xff\xda")  # start of scan: the compressed pixels follow its header
        if scan < 0:
            raise ValueError(f"{source}: no JPEG scan found")
        start = scan + 2 + int.from_bytes(data[scan + 2 : scan + 4], "big")
        end = data.rfind(b"\xff\xd9")
    else:
        box = data.find(b"mdat")
        if box < 0:
            raise ValueError(f"{source}: no mdat box found")
        start, end = box + 4, box - 4 + int.from_bytes(data[box - 4 : box], "big")
    changed = 0
    for offset in range(start + (end - start) // 2, end - 1):
        if 0xFF in (data[offset - 1], data[offset], data[offset + 1], data[offset] ^ 0x5A):  # keep markers intact
            continue
        data[offset] ^= 0x5A
        changed += 1
        if changed == 4:
            break
    target.write_bytes(bytes(data))
    return target
