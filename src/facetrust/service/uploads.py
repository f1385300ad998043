"""What a ``POST /v1/analyses`` may carry, and how it is checked.

* A multipart upload (part ``file``) is streamed to disk chunk by chunk as it arrives, under a random name
  in ``uploads/``: it is never held whole in memory and the client's file name is never joined to a path.
  Its size is capped (:class:`PayloadTooLarge` as soon as the cap is passed) and its type is sniffed from
  its first bytes (:class:`UnsupportedMediaError` unless they start like an image or video facetrust reads).
* A server-side path (JSON ``{"path": ...}``, or a form field ``path``) is accepted only under the allowed
  root: it is checked lexically first (``..``, absolute paths), then after resolving symlinks, and again by
  the worker right before the analysis.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from facetrust.errors import EmptyMediaError, MediaNotFoundError, UnsupportedMediaError
from facetrust.service.errors import (
    InsufficientStorage,
    InvalidRequest,
    PathNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
)

if TYPE_CHECKING:
    from starlette.requests import Request

SNIFF_BYTES = 1024  # enough for every signature below (MPEG-TS needs two 188-byte packets)
MAX_FIELD_BYTES = 8 * 1024  # a form field or a JSON body (a path) is small
MAX_PATH_CHARS = 4096
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers beyond the file itself
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)
SUPPORTED_TYPES = "images (JPEG, PNG, WebP, BMP, TIFF, GIF) and videos (MP4, MOV, MKV, WebM, AVI, MPEG)"


def sniff_media_kind(head: bytes) -> str | None:
    """``"image"`` or ``"video"`` when ``head`` (a file's first bytes) starts like a format facetrust reads."""
    from facetrust.media.probe import looks_like_video

    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "video" if looks_like_video(head) else None


def check_sniffed(head: bytes, name: str) -> str:
    """The media kind of ``head``; :class:`EmptyMediaError` / :class:`UnsupportedMediaError` otherwise."""
    if not head:
        raise EmptyMediaError(f"{name}: file is empty (0 bytes)")
    kind = sniff_media_kind(head)
    if kind is None:
        raise UnsupportedMediaError(f"{name}: its bytes are not an image or video facetrust reads "
                                    f"({SUPPORTED_TYPES})")
    return kind


def display_name(filename: str | None) -> str:
    """The client's file name as shown in results: its last component, printable, at most 255 characters.
    Only ever displayed; the upload is stored under a random name."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())[:255]
    return base or "upload"


def resolve_allowed_path(root: Path | None, raw: str) -> Path:
    """The real path of ``raw`` (relative to ``root``, or absolute) if it names a file inside ``root``.

    Raises :class:`PathNotAllowed` for anything that leads outside (``..``, an absolute path elsewhere, a
    symlink out of the root) or when ``root`` is None, and :class:`MediaNotFoundError` for a path inside the
    root that does not exist. Nothing outside the root is looked at on disk."""
    if root is None:
        raise PathNotAllowed("server-side paths are turned off; start the server with --allow-root DIR, or "
                             "upload the file")
    if not raw or "\x00" in raw or len(raw) > MAX_PATH_CHARS:
        raise ValidationError("path must be 1 to 4096 characters, without NUL", details=[
            {"location": ["body", "path"], "message": "invalid path"}])
    real_root = Path(root).resolve(strict=True)
    joined = Path(os.path.normpath(real_root / raw))  # an absolute ``raw`` replaces the root here
    if not joined.is_relative_to(real_root):
        raise PathNotAllowed(f"{raw}: outside the allowed folder")
    try:
        real = joined.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, a symlink loop, a component that is a file
        raise MediaNotFoundError(f"{raw}: no such file in the allowed folder") from exc
    if not real.is_relative_to(real_root):
        raise PathNotAllowed(f"{raw}: a symbolic link that leads outside the allowed folder")
    from facetrust.media.probe import resolve_path

    try:
        resolve_path(real)  # a folder, a FIFO, unreadable, empty: named library errors
    except (MediaNotFoundError, UnsupportedMediaError, EmptyMediaError) as exc:
        raise type(exc)(str(exc).replace(str(real), raw)) from None
    return real


@dataclass(frozen=True)
class ReceivedUpload:
    """An upload stored on disk."""

    path: Path  # uploads/<random hex>
    name: str  # display only
    size: int
    kind: str  # "image" or "video", sniffed


@dataclass(frozen=True)
class RequestedPath:
    """A server-side path the client named (not yet checked)."""

    raw: str


class _MultipartSink:
    """Callbacks of the streaming multipart parser: the ``file`` part goes straight to disk."""

    def __init__(self, uploads_dir: Path, max_bytes: int) -> None:
        self.uploads_dir, self.max_bytes = uploads_dir, max_bytes
        self.upload: ReceivedUpload | None = None
        self.path_field: str | None = None
        self.ended = False
        self._headers: dict[str, str] = {}
        self._field, self._value = b"", b""
        self._part: str | None = None  # "file", "path"
        self._filename: str | None = None
        self._buffer = bytearray()
        self._file: Any = None
        self._file_path: Path | None = None
        self._size = 0
        self._kind: str | None = None

    # header parsing
    def on_part_begin(self) -> None:
        self._headers, self._part, self._filename, self._buffer = {}, None, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if name not in ("file", "path"):
            raise InvalidRequest(f"unknown form field {name!r}: send the media as the part 'file', or a server "
                                 "path as the field 'path'")
        if name == "file":
            if self._file_path is not None:
                raise InvalidRequest("one file per request: the part 'file' is given twice")
            self._filename = filename.decode("utf-8", "replace") if filename is not None else None
            self._open_file()
        elif self.path_field is not None:
            raise InvalidRequest("the field 'path' is given twice")
        self._part = name

    # data
    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part == "path":
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"the field 'path' is longer than {MAX_FIELD_BYTES} bytes")
            return
        self._size += len(chunk)
        if self._size > self.max_bytes:
            raise PayloadTooLarge(f"the upload is larger than the server accepts ({_size_text(self.max_bytes)})")
        if self._kind is None:
            self._buffer += chunk
            if len(self._buffer) < SNIFF_BYTES:
                return
            self._sniff()
            chunk, self._buffer = bytes(self._buffer), bytearray()
        self._file.write(chunk)

    def on_part_end(self) -> None:
        if self._part == "path":
            try:
                self.path_field = self._buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("the field 'path' is not UTF-8 text", details=[
                    {"location": ["body", "path"], "message": "not UTF-8"}]) from None
        elif self._part == "file":
            if self._kind is None:
                self._sniff()
                self._file.write(bytes(self._buffer))
            self._file.close()
            assert self._file_path is not None and self._kind is not None
            self.upload = ReceivedUpload(self._file_path, display_name(self._filename), self._size, self._kind)
        self._part = None

    def on_end(self) -> None:
        self.ended = True

    def _open_file(self) -> None:
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._file_path = self.uploads_dir / uuid.uuid4().hex
        fd = os.open(self._file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")

    def _sniff(self) -> None:
        self._kind = check_sniffed(bytes(self._buffer[:SNIFF_BYTES]), display_name(self._filename))

    def discard(self) -> None:
        """Close and delete a partly written upload (the request failed)."""
        if self._file is not None:
            self._file.close()
        if self._file_path is not None:
            self._file_path.unlink(missing_ok=True)


def _size_text(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size} bytes"


async def receive_analysis_request(request: Request, uploads_dir: Path, max_bytes: int) -> ReceivedUpload | RequestedPath:
    """Read the body of ``POST /v1/analyses``: a multipart upload (streamed to ``uploads_dir``), or a server
    path as JSON or a form field. Raises the service's errors (413, 415, 400, 422) and leaves no file behind
    when it does."""
    from python_multipart.multipart import parse_options_header

    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise PayloadTooLarge(f"the request is larger than the server accepts ({_size_text(max_bytes)})")
    if content_type == b"multipart/form-data":
        return await _receive_multipart(request, params.get(b"boundary"), uploads_dir, max_bytes)
    if content_type in (b"application/json", b"application/x-www-form-urlencoded"):
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"a path request must be under {MAX_FIELD_BYTES} bytes")
        return _path_from_body(bytes(body), json_body=content_type == b"application/json")
    raise UnsupportedMediaType("send multipart/form-data (a part 'file' with the media), or JSON {\"path\": ...} "
                               "naming a file under the server's allowed folder")


async def _receive_multipart(request: Request, boundary: bytes | None, uploads_dir: Path,
                             max_bytes: int) -> ReceivedUpload | RequestedPath:
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser
    from starlette.requests import ClientDisconnect

    if not boundary:
        raise InvalidRequest("multipart/form-data without a boundary")
    sink = _MultipartSink(uploads_dir, max_bytes)
    callbacks = {name: getattr(sink, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + FORM_OVERHEAD:
                raise PayloadTooLarge(f"the request is larger than the server accepts ({_size_text(max_bytes)})")
            parser.write(chunk)
        parser.finalize()
        if not sink.ended:
            raise InvalidRequest("the multipart body ends before its closing boundary")
    except MultipartParseError as exc:
        sink.discard()
        raise InvalidRequest(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        sink.discard()
        raise InvalidRequest("the client disconnected during the upload") from None
    except OSError as exc:  # the disk is full, or uploads/ is not writable
        sink.discard()
        raise InsufficientStorage(f"the server could not store the upload ({exc.strerror or exc})") from None
    except BaseException:
        sink.discard()
        raise
    if sink.upload is not None and sink.path_field is not None:
        sink.discard()
        raise InvalidRequest("send either a file or a path, not both")
    if sink.upload is not None:
        return sink.upload
    if sink.path_field is not None:
        return RequestedPath(sink.path_field)
    raise InvalidRequest("no media: send the part 'file' (multipart/form-data), or a server path")


def _path_from_body(body: bytes, *, json_body: bool) -> RequestedPath:
    def invalid(message: str) -> ValidationError:
        return ValidationError(f"invalid request: {message}", details=[{"location": ["body", "path"],
                                                                         "message": message}])

    if json_body:
        try:
            data: Any = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise invalid("the body is not valid JSON") from None
        if not isinstance(data, dict) or set(data) != {"path"}:
            raise invalid('expected exactly {"path": "<file under the allowed folder>"}')
        value = data["path"]
    else:
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise invalid("the form is not UTF-8") from None
        if set(fields) != {"path"} or len(fields["path"]) != 1:
            raise invalid("expected exactly one form field 'path'")
        value = fields["path"][0]
    if not isinstance(value, str) or not value:
        raise invalid("path must be a non-empty string")
    return RequestedPath(value)
