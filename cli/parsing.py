"""What people type for due dates, plan actions and effectiveness criteria, turned into the values the client
layer takes.

Plan actions are ``OWNER:DUE:DESCRIPTION`` or ``key=value`` pairs (``owner=..,due=..,description=..``), as are
effectiveness criteria; a review judges each criterion as ``N=met:DATA``.

A due time (``DUE``, ``due=``, ``--until``) is one of:
- a date ``YYYY-MM-DD``: the end of that day, 23:59:59 in the zone of the record's site, so "due 2026-03-31"
  leaves the whole day where the work is done; it goes to the server as the date, which the client layer places;
- an ISO date-time ``2026-03-31T14:00`` (UTC unless it carries an offset such as ``Z`` or ``+02:00``);
- a duration from now: ``10d``, ``12h``, ``1d12h``, ``30s``.
"""

import re
from datetime import UTC, date, datetime

from models.durations import parse_duration

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# OWNER:DUE:DESCRIPTION, where DUE may itself hold colons when it is a date-time.
_ACTION = re.compile(
    r"(?P<owner>[^:]+):"
    r"(?P<due>\d{4}-\d{2}-\d{2}[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?|[^:]+):"
    r"(?P<description>.+)",
    re.DOTALL,
)


def parse_due(text: str, now: datetime) -> datetime | date:
    """The UTC instant ``text`` names, or the date it names alone (the end of that day at the record's site, which
    the server knows); ValueError saying the accepted forms when it names neither."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{text!r} is not a calendar date") from None
    try:
        return (now + parse_duration(value)).replace(microsecond=0)
    except OverflowError:
        raise ValueError(f"{text!r} lies beyond the year 9999") from None
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-03-31), a date-time (2026-03-31T14:00Z) or a duration (10d, 12h, 1d12h)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_action(text: str, now: datetime) -> dict[str, object]:
    """One ``--action OWNER:DUE:DESCRIPTION`` as the fields of a plan's action (``models.payloads.PlannedAction``);
    ValueError saying what is wrong with it."""
    match = _ACTION.fullmatch(text.strip())
    if match is None:
        raise ValueError("write it as OWNER:DUE:DESCRIPTION, e.g. olivia:10d:Replace the worn fixture")
    return {
        "owner": match["owner"].strip(),
        "due_at": parse_due(match["due"], now),
        "description": match["description"].strip(),
    }


# KEY=VALUE,KEY=VALUE: a value may hold commas; a new pair starts where a comma is followed by a word and ``=``,
# so a mistyped key is named rather than read as part of the value before it.
_NEXT_PAIR = re.compile(r",\s*(?=[A-Za-z_]+\s*=)")


def parse_pairs(text: str, keys: tuple[str, ...], example: str) -> dict[str, str]:
    """``text`` as its ``key=value`` pairs, each key one of ``keys`` at most once; ValueError naming what is
    wrong (an unknown or repeated key, a pair without ``=``) with ``example`` of the right form."""
    pieces = _NEXT_PAIR.split(text.strip())
    pairs: dict[str, str] = {}
    for piece in pieces:
        key, equals, value = piece.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"write it as KEY=VALUE pairs separated by commas, e.g. {example}")
        if key not in keys:
            raise ValueError(f"unknown key {key!r}: the keys are {', '.join(keys)}")
        if key in pairs:
            raise ValueError(f"{key} given twice")
        pairs[key] = value.strip()
    return pairs


_ACTION_KEYS = ("owner", "due", "description", "late_due_reason", "kind")
_ACTION_EXAMPLE = "owner=olivia,due=10d,description=Replace the worn fixture"


def parse_action_pairs(text: str, now: datetime) -> dict[str, object]:
    """One action written ``owner=..,due=..,description=..[,late_due_reason=..][,kind=..]`` as a plan's action's
    fields; ValueError saying what is wrong with it."""
    pairs = parse_pairs(text, _ACTION_KEYS, _ACTION_EXAMPLE)
    missing = [key for key in ("owner", "due", "description") if not pairs.get(key)]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing; e.g. {_ACTION_EXAMPLE}")
    action: dict[str, object] = {
        "owner": pairs["owner"],
        "due_at": parse_due(pairs["due"], now),
        "description": pairs["description"],
    }
    for key in ("late_due_reason", "kind"):
        if key in pairs:
            action[key] = pairs[key]
    return action


def is_action_pairs(text: str) -> bool:
    """Whether an action is written as ``key=value`` pairs rather than ``OWNER:DUE:DESCRIPTION``."""
    return re.match(rf"\s*(?:{'|'.join(_ACTION_KEYS)})\s*=", text) is not None


_CRITERION_KEYS = ("measure", "baseline", "threshold", "source", "days", "lots", "units", "products")
_CRITERION_EXAMPLE = "measure=burr rejects,baseline=2.1 %,threshold=< 0.2 %,source=QC-DB line 3,days=30"


def parse_criterion(text: str) -> dict[str, object]:
    """One effectiveness criterion ``measure=..,baseline=..,threshold=..,source=..,days=N`` (or ``lots=N`` or
    ``units=N``, and optionally ``products=A/B``, the products its window watches) as the fields of
    ``models.payloads.Criterion``; ValueError saying what is wrong with it."""
    pairs = parse_pairs(text, _CRITERION_KEYS, _CRITERION_EXAMPLE)
    missing = [key for key in ("measure", "baseline", "threshold", "source") if not pairs.get(key)]
    windows = [key for key in ("days", "lots", "units") if key in pairs]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing; e.g. {_CRITERION_EXAMPLE}")
    if len(windows) != 1:
        raise ValueError("give its window as one of days=N, lots=N or units=N")
    window = windows[0]
    if not pairs[window].isdigit() or int(pairs[window]) < 1:
        raise ValueError(f"{window} must be a whole number from 1, not {pairs[window]!r}")
    return {
        "measure": pairs["measure"],
        "baseline": pairs["baseline"],
        "threshold": pairs["threshold"],
        "data_source": pairs["source"],
        f"window_{window}": int(pairs[window]),
        # recurrence: the products or parts the window watches, separated by slashes (products=H-210/H-220)
        **({"products": [p.strip() for p in pairs["products"].split("/") if p.strip()]} if "products" in pairs else {}),
    }


_RESULT = re.compile(r"(?P<number>\d+)\s*=\s*(?P<verdict>met|not-met)\s*:(?P<data>.*)", re.DOTALL)


def parse_criterion_result(text: str) -> dict[str, object]:
    """One ``N=met:DATA`` or ``N=not-met:DATA`` (the plan's Nth criterion, from 1) as the fields of
    ``models.payloads.CriterionResult``; ValueError saying what is wrong with it."""
    match = _RESULT.fullmatch(text.strip())
    if match is None:
        raise ValueError("write it as N=met:DATA or N=not-met:DATA, e.g. 1=met:0.1 % over 30 days")
    if not match["data"].strip():
        raise ValueError("say which data shows it, after the colon")
    return {"criterion": int(match["number"]), "met": match["verdict"] == "met", "data": match["data"].strip()}


def parse_assignment(text: str, left: str, right: str) -> tuple[str, str]:
    """``LEFT=RIGHT`` (``scrap=40``, ``A1=new scope``, ``recurrence-of=NC-2026-0001``) as its two sides, both
    non-blank; ValueError naming the form otherwise."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip() or not value.strip():
        raise ValueError(f"write it as {left}={right}")
    return key.strip(), value.strip()
