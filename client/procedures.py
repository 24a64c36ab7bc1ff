"""Procedure-version pinning: which CAPA procedure revision each record was raised under, and quality's signed
move of chosen open records to the procedure and policy in force.

``move_procedure`` fills in the policy in force for the record's class before the signature, so what quality
signs names the policy (and procedure revision) the record moves to; the record's rules
(``models.rules.check_move_procedure``) judge the move, and the record's workflow keeps running clocks' dues.
"""

from typing import NamedTuple

import structlog

from client.records import CapaClient
from core import procedures
from models.payloads import MoveProcedureStep, StepOutcome
from models.policy import PinnedPolicy, Policy, Procedure

log = structlog.get_logger(__name__)


class ProcedureInForce(NamedTuple):
    """What new records are raised under now."""

    policy: str
    digest: str
    procedure: Procedure | None


def raised_under(policy: PinnedPolicy | None) -> str:
    """``raised under SOP-QA-014 rev C, policy 2026-11``; "procedure not recorded" for a record raised before
    policies stated their procedure."""
    if policy is None:
        return "procedure not recorded"
    return policy.raised_under()


def in_force(policy: Policy) -> ProcedureInForce:
    return ProcedureInForce(policy=policy.name, digest=policy.digest, procedure=policy.procedure)


async def procedure_in_force(client: CapaClient) -> ProcedureInForce:
    return in_force(await client.policy_in_force())


async def move_procedure(
    client: CapaClient, record_id: str, actor_name: str, reason: str, password: str
) -> StepOutcome:
    """Move one open record to the procedure and policy in force, signed by ``actor_name`` (quality) with their
    ``password``; the record refuses a move that is not quality's, of a record that has ended, or to the policy it
    is already under."""
    state = (await client.show_record(record_id)).state
    pinned = (await client.policy_in_force()).for_severity(state.severity)
    step = MoveProcedureStep(reason=reason, policy=pinned)
    outcome = await client.sign(record_id, actor_name, step, password)
    log.info(
        "record moved to the procedure in force",
        record_id=record_id,
        workflow_id=record_id,
        actor=actor_name,
        to=raised_under(pinned),
    )
    return outcome


class RecordBehind(NamedTuple):
    """An open record raised (or last moved) under a policy other than the one in force."""

    record_id: str
    title: str
    stage: str
    raised_under: str


async def records_behind(client: CapaClient) -> list[RecordBehind]:
    """The open records not under the policy in force, for quality to choose which to move."""
    policy = await client.policy_in_force()
    states = await client._db(procedures.records_behind, client._engine, policy.digest)
    return [RecordBehind(s.id, s.title, s.stage.value, raised_under(s.policy)) for s in states]
