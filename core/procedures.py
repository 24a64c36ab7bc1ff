"""Procedure-version pinning in the read model: the open records raised (or last moved) under a policy other than
the one in force, so quality can choose which to move to the procedure in force."""

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from models.enums import Stage
from models.payloads import CapaState
from models.tables import Nonconformity


def record_facts(state: CapaState) -> dict[str, str | None]:
    """The row's procedure columns of ``state``: the document and revision it is under (None: not recorded)."""
    procedure = state.policy.procedure if state.policy is not None else None
    return {
        "procedure_document": procedure.document if procedure is not None else None,
        "procedure_revision": procedure.revision if procedure is not None else None,
    }


_ENDED = (Stage.CLOSED.value, Stage.CANCELLED.value)


def records_behind(engine: Engine, digest: str, *, limit: int = 500) -> list[CapaState]:
    """The open records whose pinned policy is not the one whose digest is ``digest``, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Nonconformity.state_json)
            .where(col(Nonconformity.stage).not_in(_ENDED))
            .where(or_(col(Nonconformity.policy_digest).is_(None), col(Nonconformity.policy_digest) != digest))
            .order_by(col(Nonconformity.raised_at), col(Nonconformity.id))
            .limit(limit)
        ).all()
    return [CapaState.model_validate_json(row) for row in rows]
