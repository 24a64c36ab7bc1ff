"""The one error type of the client layer, ``CapaError``: its ``kind`` a front end turns into an exit code or an
HTTP status, its message one line for the person who made the request.

Light on purpose: front ends import it before they know whether a command needs Temporal or the database.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.rules import Rejection


class ErrorKind(StrEnum):
    """Why a request failed; the first four are the workflow's rejection kinds (``models.rules``)."""

    WRONG_STAGE = "WrongStage"
    NOT_ALLOWED = "NotAllowed"
    INVALID = "InvalidInput"
    NOT_FOUND = "NotFound"
    UNAVAILABLE = "Unavailable"
    # Not a failure: the step was sent and waits for a busy worker; it applies when one is free.
    PENDING = "Pending"


class CapaError(Exception):
    """A failed request: its kind, and a one-line message for the person who made it."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @classmethod
    def from_rejection(cls, rejection: "Rejection") -> "CapaError":
        return cls(ErrorKind(rejection.kind.value), rejection.message)


class StepPending(CapaError):
    """A step sent but not answered within the client's patience: the workers are busy, or none is running.

    It is queued in Temporal under ``update_id`` and applies when a worker is free (or is refused then, like
    any step): the caller is told to look at the record, or to ask ``step_outcome``, not to send it again.
    """

    def __init__(self, record_id: str, step: str, update_id: str, why: str | None = None) -> None:
        why = why or "no worker has taken it within the wait"
        super().__init__(
            ErrorKind.PENDING,
            f"{record_id}: {step} is sent but not applied yet ({why}); it shows on the record once applied, or is "
            f"refused then; do not send it again (step {update_id})",
        )
        self.record_id = record_id
        self.step = step
        self.update_id = update_id
