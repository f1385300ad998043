"""Unsigned metadata: XMP/IPTC declarations (``Iptc4xmpExt:DigitalSourceType``) and hints in EXIF, PNG text
chunks and video container tags.

None of it is signed: anyone can write or remove it. A digital source type in XMP is a *declaration*;
generator names, software tags and generation parameters are *hints*. Works without ``c2pa``."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facetrust.provenance.vocabulary import GENERATOR_TEXT_KEYS, generator_names, source_type_term

logger = logging.getLogger(__name__)

C2PA_MARKER = b"jumdc2pa"  # a JUMBF description box of type "c2pa": the manifest store, in any container
WHOLE_FILE_LIMIT = 64 * 1024 * 1024  # images up to this size are searched whole
WINDOW = 4 * 1024 * 1024  # larger files and videos: this much of the head and of the tail
MAX_XMP_PACKETS = 8
MAX_XMP_BYTES = 2 * 1024 * 1024
_XMP_OPEN, _XMP_CLOSE = b"<x:xmpmeta", b"</x:xmpmeta>"
_XAP = "http://ns.adobe.com/xap/1.0/"
_RDF_RESOURCE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
_SD_PARAMETERS = re.compile(r"\bSteps:\s*\d+,\s*Sampler:", re.IGNORECASE)  # AUTOMATIC1111's parameter line
_DST_ATTRIBUTE = re.compile(r"""DigitalSourceType\s*=\s*["']([^"']+)["']""")
_DST_ELEMENT = re.compile(r"""DigitalSourceType(?:\s[^>]*?resource\s*=\s*["']([^"']+)["'])?[^>]*>\s*([^<\s]*)""")

# EXIF tags that carry free text: base IFD, then the Exif sub-IFD
_EXIF_TEXT_TAGS = {0x010E: "ImageDescription", 0x0131: "Software", 0x013B: "Artist", 0x013C: "HostComputer",
                   0x010F: "Make", 0x0110: "Model", 0x8298: "Copyright", 0x9C9C: "XPComment"}
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286
_VIDEO_SOFTWARE_KEYS = ("software", "encoder", "com.apple.quicktime.software", "tool")


@dataclass(frozen=True)
class EmbeddedFindings:
    """What the unsigned metadata of one file says."""

    declared_source_types: tuple[str, ...] = ()  # IPTC terms from XMP, e.g. "trainedAlgorithmicMedia"
    hints: tuple[str, ...] = ()  # generator names, generation parameters: hints, not proof
    software: tuple[str, ...] = ()  # software tags as written (EXIF Software, xmp:CreatorTool, encoder)
    c2pa_marker: bool = False  # the bytes searched hold a C2PA manifest store box
    notes: tuple[str, ...] = ()


class _Collector:
    """Gathers declarations and hints without duplicates, in the order found."""

    def __init__(self) -> None:
        self.types: dict[str, None] = {}
        self.hints: dict[str, None] = {}
        self.software: dict[str, None] = {}
        self.notes: dict[str, None] = {}

    def text(self, where: str, value: str) -> None:
        """A free-text field: generator names in it are hints."""
        for name in generator_names(value):
            self.hints[f"{where} names {name}"] = None
        if _SD_PARAMETERS.search(value):
            self.hints[f"{where} holds Stable Diffusion generation parameters"] = None

    def tool(self, where: str, value: str) -> None:
        """A software tag: recorded as written, and searched for generator names."""
        value = " ".join(value.split())[:120]
        if value:
            self.software[f"{where}: {value}"] = None
            self.text(where, value)

    def result(self, marker: bool) -> EmbeddedFindings:
        return EmbeddedFindings(tuple(self.types), tuple(self.hints), tuple(self.software), marker,
                                tuple(self.notes))


def read_embedded(path: Path, media_kind: str) -> EmbeddedFindings:
    """Search ``path`` (``media_kind`` "image" or "video") for XMP declarations, C2PA boxes and hints."""
    found = _Collector()
    try:
        data = _read_bytes(path, whole=media_kind == "image")
    except OSError as exc:
        found.notes[f"embedded metadata not read: {exc.strerror or exc}"] = None
        return found.result(False)
    for packet in _xmp_packets(data):
        _read_xmp(packet, "XMP", found)
    if media_kind == "image":
        _read_image_tags(path, found)
    else:
        _read_container_tags(path, found)
    return found.result(C2PA_MARKER in data)


def _read_bytes(path: Path, *, whole: bool) -> bytes:
    """The whole file (images up to 64 MB), else its first and last 4 MB."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        if (whole and size <= WHOLE_FILE_LIMIT) or size <= 2 * WINDOW:
            return handle.read()
        head = handle.read(WINDOW)
        handle.seek(size - WINDOW)
        return head + handle.read(WINDOW)


def _xmp_packets(data: bytes) -> list[bytes]:
    packets, start = [], 0
    while len(packets) < MAX_XMP_PACKETS:
        begin = data.find(_XMP_OPEN, start)
        if begin < 0:
            break
        end = data.find(_XMP_CLOSE, begin, begin + MAX_XMP_BYTES)
        if end < 0:
            break
        end += len(_XMP_CLOSE)
        packets.append(data[begin:end])
        start = end
    return packets


def _read_xmp(packet: bytes | str, where: str, found: _Collector) -> None:
    """Digital source types (attribute, element or rdf:resource form), xmp:CreatorTool, and generator names
    in any value. A packet that is not well-formed XML is searched with patterns instead."""
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        for match in _DST_ATTRIBUTE.finditer(text):
            found.types[source_type_term(match.group(1))] = None
        for match in _DST_ELEMENT.finditer(text):
            value = match.group(1) or match.group(2)
            if value:
                found.types[source_type_term(value)] = None
        found.text(where, text)
        return
    for element in root.iter():
        if _local(element.tag) == "DigitalSourceType":
            value = element.get(_RDF_RESOURCE) or (element.text or "").strip()
            if value:
                found.types[source_type_term(value)] = None
        elif element.tag == f"{{{_XAP}}}CreatorTool" and element.text:
            found.tool(f"{where} CreatorTool", element.text)
        elif element.text and element.text.strip():
            found.text(where, element.text)
        for name, value in element.attrib.items():
            if _local(name) == "DigitalSourceType":
                found.types[source_type_term(value)] = None
            elif name == f"{{{_XAP}}}CreatorTool":
                found.tool(f"{where} CreatorTool", value)
            else:
                found.text(where, value)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _read_image_tags(path: Path, found: _Collector) -> None:
    """EXIF text tags, the Stable Diffusion UserComment, PNG text chunks, XMP Pillow decompressed."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the header and metadata, not the pixels
            info = dict(image.info)
            # a PNG without an eXIf chunk before its pixels would be decoded whole to look for one after them
            exif = image.getexif() if image.format != "PNG" or "exif" in info else Image.Exif()
            tags = {tag: exif.get(tag) for tag in _EXIF_TEXT_TAGS if tag in exif}
            try:
                sub = exif.get_ifd(_EXIF_IFD)
            except (KeyError, ValueError, TypeError, SyntaxError):
                sub = {}
            user_comment = sub.get(_USER_COMMENT) if sub else None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:  # Pillow's parse errors
        found.notes[f"image metadata not read: {exc}"] = None
        return
    for tag, value in tags.items():
        name = _EXIF_TEXT_TAGS[tag]
        text = _as_text(value, utf16=tag == 0x9C9C)
        if name in ("Software", "HostComputer"):
            found.tool(f"EXIF {name}", text)
        else:
            found.text(f"EXIF {name}", text)
    if user_comment is not None:
        found.text("EXIF UserComment", _as_text(user_comment, exif_comment=True))
    for key, value in info.items():
        if not isinstance(key, str) or not isinstance(value, str | bytes):
            continue
        if key in ("xmp", "XML:com.adobe.xmp"):  # Pillow's decompressed XMP (e.g. a zTXt/iTXt chunk)
            _read_xmp(value, "XMP", found)
        elif key in GENERATOR_TEXT_KEYS:
            found.hints[f"{_text_place(path)} '{key}': {GENERATOR_TEXT_KEYS[key]}"] = None
        elif key.lower() == "software":
            found.tool(f"{_text_place(path)} Software", _as_text(value))
        elif key not in ("exif", "icc_profile", "dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density",
                         "adobe", "adobe_transform", "progressive", "progression", "transparency", "gamma"):
            found.text(f"{_text_place(path)} '{key}'", _as_text(value))


def _text_place(path: Path) -> str:
    return "PNG text" if path.suffix.lower() == ".png" else "image text"


def _as_text(value: Any, *, utf16: bool = False, exif_comment: bool = False) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):  # XPComment as a tuple of byte values in some Pillow versions
        value = bytes(value)
    if isinstance(value, bytes):
        if exif_comment and value[:8] in (b"UNICODE\x00", b"ASCII\x00\x00\x00", b"\x00" * 8):
            encoding = "utf-16" if value.startswith(b"UNICODE") else "latin-1"
            return value[8:].decode(encoding, "replace")
        return value.decode("utf-16-le" if utf16 else "utf-8", "replace").rstrip("\x00")
    return str(value)


def _read_container_tags(path: Path, found: _Collector) -> None:
    """Container and stream tags of a video (PyAV): software and encoder names, comments, titles."""
    import av

    from facetrust.media.probe import ffmpeg_url

    try:
        # skip_frame: the tags are in the header; opening would otherwise decode frames to probe the streams
        with av.open(ffmpeg_url(path), mode="r", metadata_errors="replace",
                     options={"skip_frame": "all", "threads": "1"}) as container:
            tag_sets = [("container", dict(container.metadata))]
            tag_sets += [(f"stream {s.index}", dict(s.metadata)) for s in container.streams]
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        found.notes[f"container metadata not read: {exc}"] = None
        return
    for place, tags in tag_sets:
        for key, value in tags.items():
            if not isinstance(value, str):
                continue
            if key.lower() in _VIDEO_SOFTWARE_KEYS and not value.startswith(("Lavf", "Lavc")):
                found.tool(f"{place} {key}", value)  # ffmpeg's own muxer/encoder stamps say nothing
            elif key.lower() not in ("handler_name", "vendor_id", "language", "major_brand", "minor_version",
                                     "compatible_brands", "creation_time", "duration", "encoder"):
                found.text(f"{place} {key}", value)
