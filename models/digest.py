"""The daily overdue digest's payloads: what starts a run, what its activity is asked, and what it answers.

Pure pydantic, safe to import inside the workflow sandbox.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DigestRequest(BaseModel):
    """``at`` pins the moment described (for tests and backfills); by default the scheduled time, else now."""

    model_config = ConfigDict(extra="allow")

    at: datetime | None = None


class DigestInput(BaseModel):
    """The moment the digest describes: what is overdue then, and the local day it belongs to."""

    model_config = ConfigDict(extra="allow")

    at: datetime


class ChainHeadResult(BaseModel):
    """The day's chain head as published: one hash over every record's chain head and the admin log's."""

    model_config = ConfigDict(extra="allow")

    day: str
    head: str


class DigestResult(BaseModel):
    """Who was sent a digest by this run, and how many overdue items each one lists.

    ``already_sent`` names the people whose digest for that day was queued earlier (by the schedule or an
    earlier ``capa digest --now``) and so was not sent again. An attempt retried after queueing some digests
    counts those as already sent.
    """

    model_config = ConfigDict(extra="allow")

    day: str = ""
    recipients: dict[str, int] = {}
    already_sent: dict[str, int] = {}
