"""The record page's "Download report (PDF)": the same report the API's ``report.pdf`` answers, for the signed-in
session, naming its person as who generated it."""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Client, WebUser
from api.errors import STATUS
from api.routes_reports import pdf_response
from api.web.rendering import problem_page
from client.errors import CapaError
from client.reports import record_report
from models.payloads import PATTERN_WORDS, RECORD_ID_PATTERN

router = APIRouter(include_in_schema=False)

_RECORD_ID = re.compile(RECORD_ID_PATTERN)


@router.get("/records/{record_id}/report.pdf")
async def report_pdf(request: Request, record_id: str, user: WebUser, client: Client) -> Response:
    if not _RECORD_ID.fullmatch(record_id):
        return problem_page(request, user, 404, f"{record_id[:40]}: {PATTERN_WORDS[RECORD_ID_PATTERN]}")
    try:
        report = await record_report(client, record_id, user.name)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    return pdf_response(report)
