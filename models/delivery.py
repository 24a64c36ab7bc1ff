"""Payloads of the delivery workflow and its activities: pure pydantic, safe in the workflow sandbox."""

from pydantic import BaseModel, ConfigDict, Field

# Started by name, so the outbox (core) need not import the workflow module.
DELIVERY_WORKFLOW = "DeliveryWorkflow"
DEFAULT_MAX_ATTEMPTS = 8


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class DeliveryInput(_Payload):
    """Deliver one outbox row; ``max_attempts`` bounds the retries of a failing channel."""

    row_id: int
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)


class DeliverMessageInput(_Payload):
    row_id: int


class MarkFailedInput(_Payload):
    row_id: int
    error: str


class DeliveryResult(_Payload):
    row_id: int
    status: str  # an OutboxStatus value
    error: str | None = None
