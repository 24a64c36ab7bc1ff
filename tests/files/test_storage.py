"""Evidence files as kept on disk: by content hash, once, typed by content, and refused past the size limit while
they stream in."""

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.files import CSV, DOCX, JPEG, PDF, PNG, TEXT, WEBP, XLSX, FileRefused, FileStore, FileTooLarge, display_name
from tests.files import samples


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files", max_bytes=1024 * 1024)


def _kept(store: FileStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and ".drafts" not in p.parts)


def test_the_same_content_is_kept_once_under_its_hash(store: FileStore) -> None:
    """Two uploads of one content (under different names) are one file named by its SHA-256, and it is not
    written again."""
    content = samples.png()
    first = store.keep("photo.png", content)
    kept = store.path_of(first.sha256)
    before = kept.stat().st_mtime_ns
    second = store.keep("again.png", content)
    assert first.sha256 == second.sha256 == hashlib.sha256(content).hexdigest()
    assert (first.name, second.name) == ("photo.png", "again.png")
    assert _kept(store) == [kept]
    assert kept.read_bytes() == content
    assert kept.stat().st_mtime_ns == before
    assert not os.access(kept, os.W_OK) or os.geteuid() == 0
    assert list((store.root / ".drafts").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "media_type"),
    [
        ("report.pdf", samples.pdf(), PDF),
        ("photo.png", samples.png(), PNG),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 100, JPEG),
        ("photo.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\0" * 100, WEBP),
        ("sheet.xlsx", samples.xlsx(), XLSX),
        ("memo.docx", samples.docx(), DOCX),
        ("readings.csv", b"part,mm\nH-200,0.31\n", CSV),
        ("below.csv", b"<0.5,mm\n<1.0,mm\n", CSV),
        ("notes.txt", "Messung: 0,31 mm (Grät)\n".encode(), TEXT),
        ("untitled", b"plain words\n", TEXT),
    ],
)
def test_each_accepted_type_is_recognised_by_its_content(
    store: FileStore, name: str, content: bytes, media_type: str
) -> None:
    """PDF, PNG, JPEG, WebP, XLSX, DOCX, CSV and TXT are kept, each with the type its content shows."""
    assert store.keep(name, content).media_type == media_type


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.pdf", samples.exe()),
        ("page.txt", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("page.html", b"  <html><body>hi</body></html>"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        ("archive.xlsx", samples.plain_zip()),
        ("binary.txt", b"text with a \0 byte"),
        ("latin1.txt", "Gr\u00e4t".encode("latin-1")),
        ("empty.txt", b""),
    ],
)
def test_a_file_of_another_type_is_refused_naming_it_and_nothing_is_kept(
    store: FileStore, name: str, content: bytes
) -> None:
    """An executable renamed .pdf, an HTML page (even called .txt), SVG, a plain zip called .xlsx, binary or
    non-UTF-8 text and an empty file are refused with the file's name and the accepted types; nothing stays."""
    with pytest.raises(FileRefused) as refused:
        store.keep(name, content)
    assert refused.value.name == name
    assert name in refused.value.message
    if content:
        assert "accepted are PDF, PNG, JPEG, WebP, XLSX, DOCX, CSV, TXT" in refused.value.message
    assert not refused.value.too_large
    assert _kept(store) == []
    assert list((store.root / ".drafts").iterdir()) == []


async def test_a_file_over_the_limit_is_refused_while_it_streams(store: FileStore) -> None:
    """The upload stops at the first chunk past the limit: the rest is never read, and nothing is kept."""
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        while True:
            read += 64 * 1024
            yield b"a" * 64 * 1024

    with pytest.raises(FileTooLarge) as refused:
        await store.keep_stream("huge.txt", endless())
    assert refused.value.too_large
    assert "huge.txt is larger than 1 MB" in refused.value.message
    assert read == store.max_bytes + 64 * 1024
    assert _kept(store) == []
    assert list((store.root / ".drafts").iterdir()) == []


async def test_a_file_at_the_limit_is_kept(store: FileStore) -> None:
    """Exactly the limit is accepted."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield b"a" * 64 * 1024

    assert (await store.keep_stream("full.txt", chunks())).size == store.max_bytes


@pytest.mark.parametrize(
    ("name", "content", "kept_as"),
    [
        ("patxt.exe", b"plain words\n", "patxt.exe.txt"),
        ("photo.pdf", samples.png(), "photo.pdf.png"),
        ("untitled", b"plain words\n", "untitled.txt"),
        ("PHOTO.JPEG", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 100, "PHOTO.JPEG"),
        ("n" * 199 + ".exe", b"plain words\n", "n" * 196 + ".txt"),
    ],
)
def test_a_name_ends_as_its_content_does(store: FileStore, name: str, content: bytes, kept_as: str) -> None:
    """A file is shown and downloaded under a name ending as its type does: text called .exe ends in .txt."""
    kept = store.keep(name, content)
    assert kept.name == kept_as
    assert len(kept.name) <= 200


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\olivia\\photo.png", "photo.png"),
        ("evil\r\nname\x00.pdf", "evilname.pdf"),
        (".hidden", "hidden"),
        ("", "file"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_a_file_name_is_kept_for_display_only(given: str, shown: str) -> None:
    """No path parts, no control characters, at most 200 characters (the suffix kept)."""
    assert display_name(given) == shown
    assert len(display_name(given)) <= 200


async def test_text_split_inside_a_character_between_chunks_is_still_text(store: FileStore) -> None:
    """UTF-8 is read as it streams: a character cut in two by the chunking does not make the file binary."""
    content = "Grät gemessen: 0,31 mm\n".encode()
    cut = content.index("ä".encode()) + 1

    async def chunks() -> AsyncIterator[bytes]:
        yield content[:cut]
        yield content[cut:]

    assert (await store.keep_stream("notes.txt", chunks())).media_type == TEXT
