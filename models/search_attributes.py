"""The custom search attributes a record keeps up to date, so the Temporal UI and CLI can filter records."""

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("CapaStage")
SEVERITY = SearchAttributeKey.for_keyword("CapaSeverity")
OWNER = SearchAttributeKey.for_keyword("CapaOwner")
DUE_AT = SearchAttributeKey.for_datetime("CapaDueAt")

KEYS = (STAGE, SEVERITY, OWNER, DUE_AT)
