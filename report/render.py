"""The report's content laid out by Typst (the ``typst`` package: the compiler and its fonts in one wheel, no
system library).

The content goes in as JSON through ``sys.inputs`` and the template reads it as data, so no text of a record is
ever interpreted as Typst markup. Only the fonts built into the compiler are used, never the machine's: the same
content gives the same pages on every machine. The PDF is PDF/A-2b, the archival form of PDF.
"""

import json
from datetime import datetime
from importlib.resources import as_file, files

import typst

from report.content import ReportContent

TEMPLATE = "capa_report.typ"


def render_pdf(content: ReportContent, *, at: datetime) -> bytes:
    """The report as a PDF's bytes; ``at`` is when it was generated (the PDF's date). CPU work, up to about a
    second for a long record: callers on an event loop run it in a thread."""
    with as_file(files("report") / TEMPLATE) as template:
        pdf = typst.compile(
            str(template),
            root=str(template.parent),
            format="pdf",
            sys_inputs={"report": json.dumps(content)},
            ignore_system_fonts=True,
            pdf_standards=["a-2b"],
            timestamp=int(at.timestamp()),
        )
    assert isinstance(pdf, bytes)
    return pdf


def render_pages(content: ReportContent, *, at: datetime, ppi: float = 110.0) -> list[bytes]:
    """The report's pages as PNG images, to look at."""
    with as_file(files("report") / TEMPLATE) as template:
        pages = typst.compile(
            str(template),
            root=str(template.parent),
            format="png",
            ppi=ppi,
            sys_inputs={"report": json.dumps(content)},
            ignore_system_fonts=True,
            timestamp=int(at.timestamp()),
        )
    return pages if isinstance(pages, list) else [pages] if isinstance(pages, bytes) else []
