"""The CAPA report of a record as a PDF to file: ``GET /api/v1/records/{id}/report.pdf``.

Anyone signed in may read any record, so anyone signed in may have its report; it names them as who generated it.
"""

from fastapi import APIRouter, Response

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS, STEP_REFUSALS
from api.params import RecordId
from client.reports import Report, record_report

router = APIRouter(tags=["records"], route_class=AuthenticatedRoute)

PDF = "application/pdf"


def pdf_response(report: Report) -> Response:
    """The report as a download, named after its record; generated per request, so never kept by a cache."""
    return Response(
        report.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{report.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/records/{record_id}/report.pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The CAPA report (PDF/A-2b), offered as `NC-...-report.pdf`",
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
        },
        **REFUSALS,
        404: STEP_REFUSALS[404],
    },
)
async def report_pdf(record_id: RecordId, user: ApiUser, client: Client) -> Response:
    """The record's CAPA report as a PDF an auditor can file: its facts, containment, root cause with the
    why-chain, actions with their evidence and files (names, sizes, types, SHA-256), verification, reviews, every
    signature's manifestation, the whole timeline with the chain head, and who generated it when."""
    return pdf_response(await record_report(client, record_id, user.name))
