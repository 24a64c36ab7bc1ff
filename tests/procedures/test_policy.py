"""The policy's `[procedure]`: read from TOML, pinned with each record, refused with the key named when wrong."""

from datetime import date

import pytest

from models.enums import Severity
from models.policy import PolicyError, Procedure, parse_policy
from tests.policies import EARLIER_TOML


def test_the_procedure_is_read_and_pinned_with_the_record() -> None:
    policy = parse_policy(
        EARLIER_TOML + '\n[procedure]\ndocument = "SOP-QA-014"\nrevision = "C"\neffective = 2026-11-01\n'
    )
    assert policy.procedure == Procedure(document="SOP-QA-014", revision="C", effective=date(2026, 11, 1))
    pinned = policy.for_severity(Severity.MAJOR)
    assert pinned.procedure == policy.procedure
    assert pinned.raised_under() == f"raised under SOP-QA-014 rev C, policy {policy.name}"


def test_without_a_procedure_none_is_recorded() -> None:
    pinned = parse_policy(EARLIER_TOML).for_severity(Severity.MINOR)
    assert pinned.procedure is None
    assert pinned.raised_under().startswith("raised under procedure not recorded, policy ")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[procedure]\nrevision = "C"\n', "procedure.document"),
        ('[procedure]\ndocument = "SOP-QA-014"\nrevision = ""\n', "procedure.revision"),
        ('[procedure]\ndocument = "SOP-QA-014"\nrevision = "C"\nowner = "quinn"\n', "procedure.owner"),
        ('[procedure]\ndocument = "SOP-QA-014"\nrevision = "C"\neffective = "soon"\n', "procedure.effective"),
    ],
)
def test_a_wrong_procedure_is_refused_naming_its_key(section: str, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        parse_policy(EARLIER_TOML + "\n" + section, origin="policy.toml")
