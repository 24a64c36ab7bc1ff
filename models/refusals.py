"""Why a request is refused: one kind for every layer, and, for bad input, the fields at fault.

A rule (``models.rules``) or a payload's own validation names each field it refuses by its path in the step's
input model (``title``, ``whys``, ``actions.1.due_at``: list items counted from 0), with a message that does not
name the field. Each front end puts its own name for the field in front: the form's label, the CLI's option, the
API's JSON field. Pure and light: the CLI imports it before it knows whether a command needs Temporal.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """Why a request failed. The first four are the record's own refusals (its update validators)."""

    WRONG_STAGE = "WrongStage"
    NOT_ALLOWED = "NotAllowed"
    INVALID = "InvalidInput"
    NOT_FOUND = "NotFound"
    UNAVAILABLE = "Unavailable"
    # Too many wrong passwords lately (at signing): the caller must wait before trying again.
    TOO_MANY_ATTEMPTS = "TooManyAttempts"
    # Not a failure: the step was sent and waits for a busy worker; it applies when one is free.
    PENDING = "Pending"


@dataclass(frozen=True)
class FieldProblem:
    """One field at fault: its path in the step's input model (None: the request as a whole) and why."""

    field: str | None
    message: str

    def said(self, name: str | None = None) -> str:
        """The problem in one line, the field called ``name`` (default: its path)."""
        name = name or self.field
        return f"{name}: {self.message}" if name else self.message

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}

    @classmethod
    def from_json(cls, value: object) -> "FieldProblem | None":
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            field = value.get("field")
            return cls(field if isinstance(field, str) else None, value["message"])
        return None


def path(*parts: object) -> str:
    """A field path from its parts: ``path("actions", 1, "due_at")`` is ``actions.1.due_at``."""
    return ".".join(str(part) for part in parts)


def said(problems: Iterable[FieldProblem]) -> str:
    """Several problems in one line, each with its field's path."""
    return "; ".join(problem.said() for problem in problems)


class Rejection(ValueError):
    """A refusal by the rules: its kind, one line for a person, and the fields at fault (for bad input)."""

    def __init__(self, kind: ErrorKind, message: str, problems: Iterable[FieldProblem] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message)
        self.kind = kind
        self.message = message

    @classmethod
    def invalid(cls, *problems: FieldProblem) -> "Rejection":
        return cls(ErrorKind.INVALID, said(problems), problems)

    @classmethod
    def of_field(cls, kind: ErrorKind, field: str, message: str) -> "Rejection":
        """A refusal about one field that is not bad input as such (an action that does not exist)."""
        problem = FieldProblem(field, message)
        return cls(kind, problem.said(), (problem,))


class InvalidField(ValueError):
    """One field a store or a directory refuses (a name taken, a manager unknown): a ``FieldProblem`` as an
    exception, for the code below the client layer that raises rather than returns."""

    def __init__(self, field: str, message: str) -> None:
        self.problem = FieldProblem(field, message)
        super().__init__(self.problem.said())
