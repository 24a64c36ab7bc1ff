"""Procedure-version pinning on the web: the record page says what the record was raised under and offers quality
the signed move; /procedure lists the open records under an older procedure or policy."""

import html
import re

from core.readmodel import publish_policy
from models.policy import parse_policy
from tests.procedures.conftest import POLICY_C, POLICY_D
from tests.stack import PASSWORD, Stack
from tests.web.pages import browser, record_id_of


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


async def test_quality_moves_a_record_from_its_page_and_the_procedure_page_lists_those_behind(stack: Stack) -> None:
    """A record raised under rev C says so on its page; with rev D in force /procedure lists it; olivia (its owner)
    is not offered the move; quinn moves it with a reason and her password; it leaves the list and its timeline
    has the move."""
    publish_policy(stack.engine, parse_policy(POLICY_C))
    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record())
    async with browser(stack, "olivia") as olivia:
        page = (await olivia.get(f"/records/{record_id}")).text
        assert "raised under SOP-QA-014 rev C, policy 2026-11" in _text(page)
        assert 'id="form-move-procedure"' not in page

    publish_policy(stack.engine, parse_policy(POLICY_D))
    async with browser(stack, "quinn") as quinn:
        listed = (await quinn.get("/procedure")).text
        assert "New records are raised under SOP-QA-014 rev D, policy 2026-12" in _text(listed)
        assert f'href="/records/{record_id}"' in listed
        page = (await quinn.get(f"/records/{record_id}")).text
        assert 'id="form-move-procedure"' in page
        moved = await quinn.post(
            f"/records/{record_id}/move-procedure", {"reason": "SOP-QA-014 rev D issued", "password": PASSWORD}
        )
        assert moved.status_code == 303, moved.text
        page = _text((await quinn.get(f"/records/{record_id}")).text)
        # What it was raised under stays on the record beside what quality moved it to.
        assert "raised under SOP-QA-014 rev C, policy 2026-11" in page
        assert "moved to SOP-QA-014 rev D, policy 2026-12" in page
        assert "Moved by" in page
        assert f'href="/records/{record_id}"' not in (await quinn.get("/procedure")).text
