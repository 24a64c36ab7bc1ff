"""Remembers every workflow a test starts, so its history can be recorded for the replay suite."""

from dataclasses import dataclass, field
from typing import Any

from temporalio import client


@dataclass
class StartedWorkflows(client.Interceptor):
    """A client interceptor listing (workflow type, id, run id) of each start, including those of activities."""

    started: list[tuple[str, str, str | None]] = field(default_factory=list)

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _RecordStarts(next, self.started)


class _RecordStarts(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, started: list[tuple[str, str, str | None]]) -> None:
        super().__init__(next)
        self._started = started

    async def start_workflow(self, input: client.StartWorkflowInput) -> client.WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        self._started.append((input.workflow, handle.id, handle.result_run_id))
        return handle
