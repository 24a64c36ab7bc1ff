"""Procedure-version pinning on the web: the CAPA procedure and policy in force, and the open records raised (or
last moved) under another, each linked to its record page, where quality moves it with a signed decision."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import Client, WebUser
from api.web.rendering import render
from client import procedures

router = APIRouter(include_in_schema=False)


@router.get("/procedure")
async def procedure_page(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    now = await procedures.procedure_in_force(client)
    behind = await procedures.records_behind(client)
    label = now.procedure.label() if now.procedure is not None else "procedure not recorded"
    return render(
        request,
        "procedure.html",
        user,
        in_force=f"{label}, policy {now.policy}",
        procedure=now.procedure,
        behind=behind,
        may_move=user.role == "quality",
    )
