"""The CAPA report of a record, through the client layer: the one path the HTTP API, the web app and the CLI share.

It gathers what the report shows (the record as ``show_record`` finds it, the printed names of everyone in the
directory, who asks for it and when) and renders the PDF in a worker thread: laying out a long record is CPU work
that would otherwise hold up every other request of the process. At most ``RENDERS_AT_ONCE`` are laid out at a
time, so a burst of report downloads cannot take every thread the database calls share.
"""

import asyncio
from datetime import UTC, datetime
from typing import NamedTuple

import structlog

from client.records import CapaClient
from core.readmodel import printed_name
from report import render_pdf, report_content

log = structlog.get_logger(__name__)

RENDERS_AT_ONCE = 2
_renders = asyncio.Semaphore(RENDERS_AT_ONCE)


class Report(NamedTuple):
    """A record's report: its PDF, and the file name it is offered under (``NC-2026-0001-report.pdf``)."""

    record_id: str
    pdf: bytes

    @property
    def filename(self) -> str:
        return f"{self.record_id}-report.pdf"


async def record_report(client: CapaClient, record_id: str, generated_by: str) -> Report:
    """The report of ``record_id`` as generated now for ``generated_by`` (a login name); ``CapaError`` as
    ``show_record`` raises it (not found, unavailable)."""
    state, stale = await client.show_record(record_id)
    names = {user.name: printed_name(user) for user in await client.list_users()}
    at = datetime.now(UTC)
    content = report_content(state, names=names, generated_by=generated_by, generated_at=at, stale=stale)
    async with _renders:
        pdf = await asyncio.to_thread(render_pdf, content, at=at)
    log.info("report generated", record_id=record_id, workflow_id=record_id, by=generated_by, size=len(pdf))
    return Report(state.id, pdf)
