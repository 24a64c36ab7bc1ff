"""The web app's forms: which input of a form fills which field of a step's model (``models.payloads``), what
the page calls it, and a refusal turned into a message beside every input at fault and a summary at the top.

A form is read into the step's own model, so pydantic and the workflow judge it exactly as they judge the CLI
and the API; this module only knows the page's names for the model's fields.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from client.errors import CapaError, ErrorKind, FieldProblem
from client.steps import Steps
from models.refusals import path

ModelT = TypeVar("ModelT", bound=BaseModel)

# The format of <input type="datetime-local">; the pages show and read it in the reader's zone.
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


class Read(Enum):
    """How an input's text becomes the field's value."""

    TEXT = "text"  # as typed; empty means not given
    LINES = "lines"  # one list item per non-empty line
    MOMENT = "moment"  # a datetime-local value in the reader's zone, or a date alone (the record site's day end)
    DECISION = "decision"  # the button pressed: approve (true) or reject (false)
    CHECK = "check"  # a checkbox: ticked is true, unticked is not given
    CHOSEN = "chosen"  # the values of the ticked checkboxes named ``<name>-<n>``, as a list
    TARGETS = "targets"  # one ``{"target", "outcome"}`` per non-empty line ``target`` or ``target: outcome``


@dataclass(frozen=True)
class Input:
    """One input of a form: its name in the page, its label, and how it is read."""

    name: str
    label: str
    read: Read = Read.TEXT


def inputs(*specs: tuple[str, str] | tuple[str, str, Read], **renamed: Input) -> dict[str, Input]:
    """A form's inputs by the model field they fill: ``("summary", "Summary")`` for an input named as its
    field, ``new_owner=Input("owner", "New owner")`` for one named otherwise."""
    found = {spec[0]: Input(spec[0], spec[1], *spec[2:]) for spec in specs}
    return found | renamed


@dataclass
class FilledForm:
    """A form's values for its model, the inputs its fields came from, and what could not even be read."""

    values: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Input] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)


class WebForm:
    """One form post's text fields, stripped."""

    def __init__(self, values: dict[str, str], zone: tzinfo = UTC) -> None:
        self.values = values
        # The zone its date-times were typed in: the reader's (``api.deps.web_user``).
        self.zone = zone

    @classmethod
    async def read(cls, request: Request) -> "WebForm":
        form = await request.form()
        zone: tzinfo = getattr(request.state, "time_zone", UTC)
        return cls({key: value.strip() for key, value in form.items() if isinstance(value, str)}, zone)

    def text(self, name: str) -> str:
        return self.values.get(name, "")

    def fill(self, fields: dict[str, Input]) -> FilledForm:
        """Read ``fields`` (model field -> input); a field whose input is empty is left out, so the model's
        default applies or it says the field is required."""
        filled = FilledForm()
        filled.values = self.values_of(fields, filled)
        return filled

    def values_of(self, fields: dict[str, Input], filled: FilledForm, prefix: str = "") -> dict[str, Any]:
        """The values of ``fields``, their inputs and unreadable ones noted in ``filled`` (paths after
        ``prefix``). A field named ``details.course`` fills ``course`` of the nested ``details``."""
        values: dict[str, Any] = {}
        for name, spec in fields.items():
            if "." in name:
                head, _, rest = name.partition(".")
                nested = self.values_of({rest: spec}, filled, prefix=f"{prefix}{head}.")
                if nested:
                    values.setdefault(head, {}).update(nested)
                continue
            where = f"{prefix}{name}"
            filled.inputs[where] = spec
            raw = self.text(spec.name)
            if spec.read is Read.TARGETS:
                targets = [line.strip().partition(":") for line in raw.splitlines() if line.strip()]
                if targets:
                    values[name] = [
                        {"target": target.strip()} | ({"outcome": outcome.strip()} if outcome.strip() else {})
                        for target, _, outcome in targets
                    ]
            elif spec.read is Read.LINES:
                lines = [line.strip() for line in raw.splitlines() if line.strip()]
                if lines:
                    values[name] = lines
            elif spec.read is Read.DECISION:
                if raw not in ("approve", "reject"):
                    filled.problems.append(FieldProblem(where, "choose approve or reject"))
                else:
                    values[name] = raw == "approve"
            elif spec.read is Read.CHECK:
                if raw:
                    values[name] = True
            elif spec.read is Read.CHOSEN:
                chosen = [value for key, value in self.values.items() if value and key.rpartition("-")[0] == spec.name]
                if chosen:
                    values[name] = chosen
            elif raw:
                values[name] = _moment(raw, self.zone) if spec.read is Read.MOMENT else raw
        return values


def _moment(raw: str, zone: tzinfo) -> str:
    """A datetime-local value as an ISO moment in ``zone``; anything else (a date alone, which the model reads as
    the end of that day at the record's site) as typed, for the model to read or refuse."""
    try:
        return datetime.strptime(raw[:16], LOCAL_MINUTE).replace(tzinfo=zone).astimezone(UTC).isoformat()
    except ValueError:
        return raw


async def model_of(client: Steps, model: type[ModelT], filled: FilledForm) -> ModelT:
    """The step's model from a filled form: every field at fault, unreadable, refused by the model or by the
    directory, in one refusal."""
    try:
        built = await client.read_step(model, filled.values)
    except CapaError as exc:
        if exc.kind is not ErrorKind.INVALID:
            raise
        raise CapaError.invalid(*filled.problems, *exc.problems) from None
    if filled.problems:
        raise CapaError.invalid(*filled.problems)
    return built


def rows_filled(values: dict[str, str], names: tuple[str, ...], most: int) -> list[int]:
    """The numbers of a repeated group's rows (inputs ``<name>-<row>``) that have anything filled in, in order."""
    rows = {
        int(key.rpartition("-")[2])
        for key, value in values.items()
        if value and key.rpartition("-")[0] in names and key.rpartition("-")[2].isdigit()
    }
    return sorted(row for row in rows if 1 <= row <= most)


def fill_rows(
    form: WebForm,
    filled: FilledForm,
    field_name: str,
    rows: list[int],
    row_inputs: dict[str, Input],
    *,
    shown: str = "Actions",
) -> None:
    """Read a repeated group (a plan's actions) into ``field_name``: the form's row ``r`` (rows may have gaps)
    becomes item ``i`` of the list, named "<label> <i+1>" on the page; ``shown`` names the whole group."""
    first = next(iter(row_inputs.values()))
    filled.inputs[field_name] = Input(f"{first.name}-{rows[0] if rows else 1}", shown)
    items = []
    for index, row in enumerate(rows):
        renamed = {
            name: Input(f"{spec.name}-{row}", f"{spec.label} ({index + 1})", spec.read)
            for name, spec in row_inputs.items()
        }
        items.append(form.values_of(renamed, filled, prefix=path(field_name, index, "")))
    filled.values[field_name] = items


@dataclass(frozen=True)
class Rows:
    """A repeated group of a form (a plan's actions, its criteria): the model field it fills, the inputs of one
    row (``<input>-<row>``), the inputs that count as filling a row in, and whether the field is sent when no row
    is filled (an empty list the model refuses, rather than the field left out)."""

    field: str
    inputs: dict[str, Input]
    filled_by: tuple[str, ...]
    shown: str
    most: int = 50
    always: bool = False

    def fill(self, form: WebForm, filled: FilledForm) -> None:
        rows = rows_filled(form.values, self.filled_by, self.most)
        if rows or self.always:
            fill_rows(form, filled, self.field, rows, self.inputs, shown=self.shown)


@dataclass(frozen=True)
class Refusal:
    """A refused form: each input at fault with its message, what is said at the top, and the status."""

    errors: dict[str, str]
    summary: list[str]
    status: int

    @classmethod
    def of(cls, exc: CapaError, named: dict[str, Input], status: int) -> "Refusal":
        """``named``: each field path of the form's model, and the input that fills it, in the form's order."""
        errors: dict[str, str] = {}
        summary: list[tuple[int, str]] = []
        order = {path: place for place, path in enumerate(named)}
        for problem in exc.problems or (FieldProblem(None, exc.message),):
            where = _nearest(problem.field, named)
            if where is None:
                errors.setdefault("form", problem.message)
                summary.append((-1, problem.message))
                continue
            spec = named[where]
            errors.setdefault(spec.name, problem.message)
            summary.append((order[where], problem.said(spec.label)))
        summary.sort(key=lambda placed: placed[0])
        return cls(errors, [line for _, line in summary], status)


def _nearest(field: str | None, named: dict[str, Input]) -> str | None:
    """The form's field a problem is about: its own path, or the nearest one above it (``whys.3``: the why-chain)."""
    parts = field.split(".") if field else []
    while parts:
        if ".".join(parts) in named:
            return ".".join(parts)
        parts.pop()
    return None
