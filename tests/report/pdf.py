"""Reading a report's PDF as an auditor's eyes (or a search) would: its text, page by page."""

import io
import re

import pypdf

from report.content import _BREAK


def pages(pdf: bytes) -> list[str]:
    """Each page's text, with line breaks and the places the layout may break long words taken out, so a sentence
    that wraps reads as one line."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [_flat(page.extract_text()) for page in reader.pages]


def text(pdf: bytes) -> str:
    return " ".join(pages(pdf))


def _flat(raw: str) -> str:
    raw = raw.replace(_BREAK, "")
    raw = re.sub(r"-\s*\n\s*", "-", raw)
    return " ".join(raw.split())


# A page's header, and the heading row of a table that runs on from the page before.
_HEADER = re.compile(
    r"^CAPA report NC-\d{4}-\d{4,} Stage: [a-z ]+ Severity: [a-z]+ "
    r"(# Time By What happened |Action What, and its evidence Owner Due Status )?"
)
_FOOTER = re.compile(r" NC-\d{4}-\d{4,} page \d+ of \d+$")


def body(pdf: bytes) -> str:
    """The text of all pages without their headers and footers: what runs on from one page to the next reads
    as one."""
    return " ".join(_without_footer(_HEADER.sub("", page)) for page in pages(pdf))


def _without_footer(page: str) -> str:
    """The page up to its footer: "Generated at ... by ..." (its last), then the record id and page number."""
    assert _FOOTER.search(page), page[-200:]
    return page.rsplit(" Generated at ", 1)[0]
