"""The process rules, read through the API: ``GET /api/v1/process`` (anyone signed in).

Who takes which step (the rules module's one table), and what the triage form and intake need from the policy in
force: the risk matrix and the wording of its levels, the defect codes.
"""

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS
from api.schemas import Duty, ProcessView
from models import rules
from models.policy import EARLIER_RULES

router = APIRouter(tags=["process"], route_class=AuthenticatedRoute)


@router.get("/process", responses=REFUSALS)
async def process(user: ApiUser, client: Client) -> ProcessView:
    """The process new records are raised under: the table of who does what (step, who, signed, independence),
    the triage matrix (rows severity 1-5, columns occurrence 1-5) with each level's wording, and the defect codes
    intake offers. Under the earlier rules ``rules`` is "earlier" and the rest is empty."""
    duties = [Duty.model_validate(asdict(duty)) for duty in rules.WHO_DOES_WHAT]
    found = await client.process_rules()
    if found is None:
        return ProcessView(rules=EARLIER_RULES, who_does_what=duties)
    return ProcessView(
        rules=found.rules,
        who_does_what=duties,
        severity_levels=found.severity_levels,
        occurrence_levels=found.occurrence_levels,
        matrix=found.matrix,
        defect_codes=found.defect_codes,
    )
