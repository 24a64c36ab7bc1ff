"""Reading the web app's form posts: typed values out of form fields, and refusals turned into per-field messages.

A value that cannot even be converted (a quantity of "ten", an unknown severity) is refused here with the
input's name; everything else is judged by the client layer and the workflow, whose messages start with the
field they are about (``title: String should have at least 1 character``).
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from fastapi import Request

E = TypeVar("E", bound=StrEnum)

# The format of <input type="datetime-local">; the pages show and read every time in UTC.
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


class FieldInvalid(Exception):
    """One input's value cannot be used; the page shows ``message`` beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WebForm:
    """One form post's text fields, stripped, with typed accessors that name the input they refuse."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    @classmethod
    async def read(cls, request: Request) -> "WebForm":
        form = await request.form()
        return cls({key: value.strip() for key, value in form.items() if isinstance(value, str)})

    def text(self, name: str) -> str:
        return self.values.get(name, "")

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise FieldInvalid(name, "required")
        return value

    def optional(self, name: str) -> str | None:
        return self.values.get(name) or None

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in self.text(name).splitlines() if line.strip()]

    def integer(self, name: str) -> int | None:
        raw = self.optional(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise FieldInvalid(name, f"{raw!r} is not a whole number") from None

    def choice(self, name: str, kind: type[E]) -> E:
        raw = self.text(name)
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise FieldInvalid(name, f"choose one of {allowed}" if raw else "required") from None

    def optional_choice(self, name: str, kind: type[E]) -> E | None:
        return self.choice(name, kind) if self.optional(name) else None

    def moment(self, name: str) -> datetime:
        """A datetime-local value, read as UTC."""
        raw = self.text(name)
        if not raw:
            raise FieldInvalid(name, "required")
        try:
            return datetime.strptime(raw[:16], LOCAL_MINUTE).replace(tzinfo=UTC)
        except ValueError:
            raise FieldInvalid(name, f"{raw!r} is not a date and time (YYYY-MM-DD HH:MM, UTC)") from None


def field_message(message: str, fields: dict[str, str]) -> tuple[str | None, str]:
    """Which input a refusal is about, by the field its message starts with (``fields``: prefix -> input)."""
    prefix, sep, rest = message.partition(": ")
    if sep and prefix in fields:
        return fields[prefix], rest
    return None, message
