"""The one error type of the client layer, ``CapaError``: its ``kind`` (``models.refusals.ErrorKind``) a front end
turns into an exit code or an HTTP status, its message one line for the person who made the request, and for bad
input the fields at fault (``problems``), each by its path in the step's input, for the front end to name in its
own words (a form's label, a CLI option, a JSON field).

Light on purpose: front ends import it before they know whether a command needs Temporal or the database.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from models.refusals import ErrorKind, FieldProblem, said

if TYPE_CHECKING:
    from pydantic import ValidationError

    from models.refusals import Rejection

__all__ = ["CapaError", "ErrorKind", "FieldProblem", "SigningLocked", "StepPending"]

# What pydantic says of a value, as a person filling in a form reads it (its context's values filled in).
_PLAIN = {
    "missing": "required",
    "string_too_short": "required",
    "string_too_long": "at most {max_length} characters",
    "too_short": "give at least {min_length}",
    "too_long": "at most {max_length}",
    "greater_than_equal": "at least {ge}",
    "less_than_equal": "at most {le}",
    "enum": "choose one of {expected}",
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "bool_parsing": "yes or no",
    "datetime_from_date_parsing": "not a date and time",
    "datetime_parsing": "not a date and time",
    "timezone_aware": "give the time zone",
    "extra_forbidden": "not a field of this request",
}


def plain(error: Mapping[str, Any]) -> str:
    """One pydantic error in plain words; one it has no words for, as pydantic says it."""
    kind = str(error.get("type", ""))
    context = error.get("ctx")
    values = {key: str(value).replace("'", "") for key, value in context.items()} if isinstance(context, dict) else {}
    given = error.get("input")
    if kind == "string_too_short" and isinstance(given, str) and given.strip():
        return f"at least {values.get('min_length', 1)} characters"
    if kind == "string_pattern_mismatch":
        from models.payloads import PATTERN_WORDS  # noqa: PLC0415 - the payload models load only for a refusal

        return PATTERN_WORDS.get(values.get("pattern", ""), "not in the expected form")
    template = _PLAIN.get(kind)
    if template is None:
        return str(error.get("msg", "invalid"))
    try:
        return template.format(**values)
    except KeyError:
        return str(error.get("msg", "invalid"))


class CapaError(Exception):
    """A failed request: its kind, a one-line message, and for bad input the fields at fault."""

    def __init__(self, kind: ErrorKind, message: str, problems: Iterable[FieldProblem] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.problems = tuple(problems)

    @classmethod
    def from_rejection(cls, rejection: "Rejection") -> "CapaError":
        return cls(rejection.kind, rejection.message, rejection.problems)

    @classmethod
    def invalid(cls, *problems: FieldProblem) -> "CapaError":
        return cls(ErrorKind.INVALID, said(problems), problems)

    @classmethod
    def from_validation(cls, exc: "ValidationError", within: tuple[str | int, ...] = ()) -> "CapaError":
        """Every field pydantic refused, by its path (below ``within``), in plain words."""
        problems = [
            FieldProblem(".".join(str(part) for part in (*within, *error["loc"])) or None, plain(error))
            for error in exc.errors()
        ]
        return cls.invalid(*problems)


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


class SigningLocked(CapaError):
    """A signature refused without its password being checked: too many wrong passwords at signing lately; the
    signer may try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        problem = FieldProblem("password", f"too many wrong passwords; try again in {retry_after} s")
        super().__init__(ErrorKind.TOO_MANY_ATTEMPTS, problem.said(), (problem,))
        self.retry_after = retry_after
