"""Evidence files: kept by the SHA-256 of their content, typed by their content, never overwritten or removed.

A file streams into a draft under ``<dir>/.drafts`` while its hash, size and first bytes are taken; a file over
the size limit is refused as soon as it passes it, before the rest is read. Once whole, its type is decided from
its content (the name is only shown): PDF, PNG, JPEG, WebP, XLSX and DOCX by their signatures (``filetype``; an
XLSX or DOCX is a zip whose parts say which it is, any other zip is refused), CSV and plain text as UTF-8 without
NUL bytes or markup. The draft is then linked to ``<dir>/<first two hex digits>/<sha256>``: the same content is
kept once, and a file already there is never written again.
"""

import codecs
import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import AsyncIterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import filetype  # type: ignore[import-untyped]
from filetype.types import archive, document, image  # type: ignore[import-untyped]

from core.settings import Settings

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSV = "text/csv"
TEXT = "text/plain"
# What each accepted type is called where people read it.
ACCEPTED: dict[str, str] = {
    PDF: "PDF",
    PNG: "PNG",
    JPEG: "JPEG",
    WEBP: "WebP",
    XLSX: "XLSX",
    DOCX: "DOCX",
    CSV: "CSV",
    TEXT: "TXT",
}
ACCEPTED_NAMES = ", ".join(ACCEPTED.values())
# Shown inline (as a thumbnail) rather than only offered as a download.
IMAGES = frozenset({PNG, JPEG, WEBP})
# The endings a name of each type may have; a name with another gets the type's first (``notes.exe`` kept as
# text is shown and downloaded as ``notes.exe.txt``), so a download never claims to be what it is not.
ENDINGS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
    WEBP: (".webp",),
    XLSX: (".xlsx",),
    DOCX: (".docx",),
    CSV: (".csv",),
    TEXT: (".txt", ".text", ".log", ".md"),
}
SHA256 = re.compile(r"^[0-9a-f]{64}$")

# The signature matchers of the accepted binary types, and only these: a zip that is neither XLSX nor DOCX (its
# parts say which) matches none, nor does an executable called .pdf.
_MATCHERS = [archive.Pdf(), image.Png(), image.Jpeg(), image.Webp(), document.Xlsx(), document.Docx()]
_HEAD = 8192  # what filetype reads of a file
# Text that a browser would take for a page or an image: refused as text, whatever it is called.
_MARKUP = re.compile(rb"^\s*<[!?a-z]|<\s*(?:!doctype|html|script|svg|iframe|body|\?xml)", re.IGNORECASE)
_NAME_LENGTH = 200
_CHUNK = 64 * 1024


class FileRefused(Exception):
    """A file that is not kept, naming it: too large (``too_large``) or not of an accepted type."""

    too_large = False

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class FileTooLarge(FileRefused):
    too_large = True


@dataclass(frozen=True)
class StoredFile:
    """A file as kept: its shown name, size in bytes, media type and SHA-256 (hex)."""

    name: str
    size: int
    media_type: str
    sha256: str


def display_name(name: str | None) -> str:
    """The name a file is shown under: its last path part, without control characters, at most 200 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    if len(cleaned) > _NAME_LENGTH:
        _, dot, suffix = cleaned.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        cleaned = cleaned[: _NAME_LENGTH - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return cleaned or "file"


def named_as(name: str, media_type: str) -> str:
    """``name``, ending as files of ``media_type`` do."""
    endings = ENDINGS[media_type]
    if name.lower().endswith(endings):
        return name
    return name[: _NAME_LENGTH - len(endings[0])] + endings[0]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class Draft:
    """One file streaming in: written to a draft of its own, hashed, measured and sniffed as it comes."""

    def __init__(self, store: "FileStore", name: str) -> None:
        self.store = store
        self.name = display_name(name)
        drafts = store.root / ".drafts"
        drafts.mkdir(parents=True, exist_ok=True)
        self.path = drafts / f"{os.getpid()}.{secrets.token_hex(8)}"
        self._file: IO[bytes] | None = self.path.open("xb")
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._is_text = True
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Add ``chunk``; refuses the file the moment it passes the size limit."""
        assert self._file is not None
        self.size += len(chunk)
        if self.size > self.store.max_bytes:
            raise FileTooLarge(
                self.name, f"{self.name} is larger than {_megabytes(self.store.max_bytes)}, the largest file accepted"
            )
        self._hash.update(chunk)
        if len(self._head) < _HEAD:
            self._head.extend(chunk[: _HEAD - len(self._head)])
        if self._is_text:
            try:
                self._text.decode(chunk)
            except UnicodeDecodeError:
                self._is_text = False
            else:
                self._is_text = b"\0" not in chunk
        self._file.write(chunk)

    def media_type(self) -> str:
        """The type the content shows, or FileRefused."""
        head = bytes(self._head)
        if self.size == 0:
            raise FileRefused(self.name, f"{self.name} is empty")
        kind = filetype.match(head, matchers=_MATCHERS)
        if kind is not None:
            return str(kind.mime)
        if self._is_text and not _MARKUP.search(head):
            try:
                self._text.decode(b"", final=True)
            except UnicodeDecodeError:
                pass
            else:
                return CSV if self.name.lower().endswith(".csv") else TEXT
        raise FileRefused(self.name, f"{self.name} is not a file of an accepted type; accepted are {ACCEPTED_NAMES}")

    def keep(self) -> StoredFile:
        """Check the type and keep the file under its hash (once: the same content is already there or is now)."""
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        media_type = self.media_type()
        sha256 = self._hash.hexdigest()
        final = self.store.path_of(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if not final.exists():
            self.path.chmod(0o444)
            try:
                os.link(self.path, final)
            except FileExistsError:
                pass  # the same content, kept a moment ago by another upload
            except OSError:
                # A file system without hard links: a rename is atomic too, and the content is the same either way.
                if not final.exists():
                    os.replace(self.path, final)
        return StoredFile(name=named_as(self.name, media_type), size=self.size, media_type=media_type, sha256=sha256)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()


class FileStore:
    """The directory evidence files are kept in (``CAPA_FILES_DIR``), with the size limit (``CAPA_MAX_FILE_MB``)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @classmethod
    def of(cls, settings: Settings) -> Self:
        return cls(settings.files_dir, settings.max_file_bytes)

    def draft(self, name: str) -> Draft:
        return Draft(self, name)

    def path_of(self, sha256: str) -> Path:
        if not SHA256.fullmatch(sha256):
            raise ValueError(f"{sha256[:80]!r} is not a SHA-256 in hex")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return SHA256.fullmatch(sha256) is not None and self.path_of(sha256).is_file()

    def keep(self, name: str, content: bytes) -> StoredFile:
        """Keep a file that is already in memory (tests, small files)."""
        with self.draft(name) as draft:
            for start in range(0, len(content), _CHUNK):
                draft.write(content[start : start + _CHUNK])
            return draft.keep()

    async def keep_stream(self, name: str, chunks: AsyncIterable[bytes]) -> StoredFile:
        """Keep a file as it streams in; refused (and nothing kept) once it passes the size limit."""
        with self.draft(name) as draft:
            async for chunk in chunks:
                draft.write(chunk)
            return draft.keep()
