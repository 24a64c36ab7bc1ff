"""Stored text that every reader can print: no control characters in what people type.

A title, name or reason ends up in e-mail headers, log lines, terminals, CSV exports and the report; a control
character in it (a CR/LF splitting a Subject header, an escape sequence repainting a terminal, a NUL) breaks or
forges what those readers show. Multi-line text (descriptions, reasons, evidence) keeps its line breaks and tabs;
one-line text keeps none.
"""

import unicodedata
from collections.abc import Iterator, Mapping
from typing import get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

# A string constrained to at most this many characters is one line (a title, a name, a lot); longer ones are
# free text that may run over several lines.
ONE_LINE_MOST = 200
_LINE_BREAKS = str.maketrans("", "", "\n\t")


def control_character(text: str, *, multiline: bool) -> str | None:
    """How the first control character in ``text`` is named (``U+000D``), or None when there is none.

    Control characters are Unicode's Cc, plus the line and paragraph separators; in multi-line text a newline
    (alone or after a carriage return, as browsers send it) and a tab are allowed.
    """
    if multiline:
        text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def problem(text: str, *, multiline: bool) -> str | None:
    """What is wrong with ``text`` as stored text, in words a person filling in a form reads, or None."""
    found = control_character(text, multiline=multiline)
    if found is None:
        return None
    if multiline:
        return f"contains a control character ({found}); only line breaks and tabs may be typed"
    return f"contains a control character ({found}); one line of plain text"


def text_problems(model: BaseModel) -> list[tuple[str, str]]:
    """(field path, message) for every string of ``model`` (nested models and lists too) with a control
    character; paths as the model's refusals name them (``actions.0.description``)."""
    return list(_walk(model, ""))


def _walk(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    for name, info in type(model).model_fields.items():
        yield from _value(getattr(model, name, None), f"{prefix}{name}", multiline=_multiline(info))


def _value(value: object, where: str, *, multiline: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        message = problem(value, multiline=multiline)
        if message is not None:
            yield where, message
    elif isinstance(value, BaseModel):
        yield from _walk(value, f"{where}.")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _value(item, f"{where}.{index}", multiline=multiline)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _value(item, f"{where}.{key}", multiline=multiline)


def _multiline(info: FieldInfo) -> bool:
    """Whether a field's strings may run over several lines: not when they are constrained to one line's length."""
    limits = list(_string_limits(info.annotation))
    if _is_string(info.annotation):
        limits.extend(_limit(item) for item in info.metadata)
    known = [most for most in limits if most is not None]
    return not known or min(known) > ONE_LINE_MOST


def _is_string(annotation: object) -> bool:
    """``str`` or ``str | None``: the field's own constraints are then on the string, not on a list of them."""
    return annotation is str or (bool(get_args(annotation)) and str in get_args(annotation))


def _limit(item: object) -> int | None:
    most = getattr(item, "max_length", None)
    return most if isinstance(most, int) else None


def _string_limits(annotation: object) -> Iterator[int | None]:
    """The length limits of the strings inside an annotation (``list[Annotated[str, StringConstraints(...)]]``)."""
    arguments = get_args(annotation)
    if arguments and arguments[0] is str:
        yield from (_limit(item) for item in getattr(annotation, "__metadata__", ()))
    for argument in arguments:
        yield from _string_limits(argument)
