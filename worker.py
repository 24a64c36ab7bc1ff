"""The capaflow worker: runs every record's workflow and the activities that keep the read model current.

Wiring only. Run it with ``python worker.py`` or ``capa worker``.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio import workflow
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.alarms import AlarmActivities
from activities.digest import DigestActivities
from activities.notifications import DeliveryActivities, NotificationActivities, Notifier
from activities.policy import PolicyActivities
from activities.records import RecordActivities
from activities.sentinels import SentinelActivities  # recurrence sentinels
from activities.steps import StepActivities
from client.schedules import ensure_digest_schedule
from client.temporal import connect, ensure_search_attributes, is_unreachable
from core import readmodel, sites, tracing
from core.database import SchemaBehindError, make_engine
from core.logging import configure_logging
from core.metrics import MetricsPortError, ReadModelGauges, metrics_runtime
from core.migrations import ensure_schema
from core.outbox import thread_dispatcher
from core.settings import Settings, SettingsError, load_settings
from models.policy import Policy, PolicyError, load_policy
from workflows.alarm import AlarmWorkflow
from workflows.capa import CapaWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.digest import DigestWorkflow
from workflows.record import RecordWorkflow
from workflows.sentinel import SentinelWorkflow  # recurrence sentinels

log = structlog.get_logger(__name__)

# Every workflow a worker runs. CapaWorkflow is the records' earlier shape, kept for records in flight until
# ``capa records migrate`` moves them to RecordWorkflow.
WORKFLOWS = [RecordWorkflow, AlarmWorkflow, CapaWorkflow, DeliveryWorkflow, DigestWorkflow]
WORKFLOWS.append(SentinelWorkflow)  # recurrence sentinels


def build_activities(
    client: Client, *, engine: Engine, policy: Policy, settings: Settings | None = None
) -> list[Callable[..., Any]]:
    """Every activity a worker runs; call it from the event loop the worker will run on (activity threads start
    deliveries there)."""
    settings = settings if settings is not None else load_settings()
    dispatch = thread_dispatcher(client, asyncio.get_running_loop(), max_attempts=settings.notify_max_attempts)
    notifier = Notifier(engine, settings, dispatch)
    records = RecordActivities(engine, notifier)
    notifications = NotificationActivities(engine, notifier)
    delivery = DeliveryActivities(engine, settings)
    alarms = AlarmActivities(engine)
    return [
        PolicyActivities(policy).pin_policy,
        StepActivities(records, notifications, client).settle_step,
        records.record_state,
        records.escalation_recipients,
        notifications.send_notice,
        alarms.arm_alarms,
        alarms.ring,
        delivery.deliver_message,
        delivery.mark_failed,
        DigestActivities(engine, settings).send_overdue_digest,
        DigestActivities(engine, settings).publish_chain_head,
        SentinelActivities(engine, client, policy, notifier).sentinel_fire,  # recurrence sentinels
        SentinelActivities(engine, client, policy, notifier).sentinel_linked_open,  # recurrence sentinels
    ]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    engine: Engine,
    policy: Policy,
    executor: ThreadPoolExecutor,
    settings: Settings | None = None,
) -> Worker:
    """The worker; call it from the event loop it will run on. Publishes ``policy`` as the one in force."""
    readmodel.publish_policy(engine, policy)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(client, engine=engine, policy=policy, settings=settings),
        activity_executor=executor,
        # No more activity tasks than threads to run them: beyond that (the SDK's default is 100) a task waits in
        # this worker's queue while its start-to-close timeout runs, and after a database outage a backlog of
        # attempts already timed out would drain before the retries that count.
        max_concurrent_activities=executor._max_workers,
        # Heartbeats reach the server at least every 0.5 s (the SDK's default holds them back for up to 80% of
        # the heartbeat timeout), so a live ``settle_step`` under load is never timed out as if its worker died.
        max_heartbeat_throttle_interval=timedelta(milliseconds=500),
        # On SIGTERM, activities already running get this long to finish before the worker exits.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker(settings: Settings) -> None:
    # The workflow id already travels as a structured key (temporal_workflow); keep the message itself short.
    workflow.logger.workflow_info_on_message = False
    policy = load_policy(settings.policy_file)
    engine = make_engine(settings.sqlalchemy_url)
    ensure_schema(engine)
    # The default site exists from the first start on (``core.sites``).
    sites.default_site(engine, settings.site_name, settings.site_time_zone)
    tracing.set_service_name("capaflow-worker")
    runtime = metrics_runtime(settings)
    client = await connect(settings, runtime=runtime)
    await ensure_search_attributes(client)
    await ensure_digest_schedule(client, settings)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(
            client, task_queue=settings.task_queue, engine=engine, policy=policy, executor=executor, settings=settings
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            namespace=settings.temporal_namespace,
            address=settings.temporal_address,
            policy=policy.name,
            policy_digest=policy.digest,
            metrics_port=settings.metrics_port or None,
            tracing_to=settings.otel_endpoint,
        )
        gauges = None
        if runtime is not None:
            gauges = asyncio.create_task(
                ReadModelGauges(runtime.metric_meter, engine).run(settings.metrics_interval, stop)
            )
        async with worker:
            await stop.wait()
            log.info("worker stopping; letting in-flight activities finish")
        if gauges is not None:
            await gauges
        log.info("worker stopped")


def main() -> None:
    """Run until SIGINT/SIGTERM; a bad setting, a bad policy or an unreachable server is one line and exit 2/1."""
    try:
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        asyncio.run(run_worker(settings))
    except (SettingsError, PolicyError, SchemaBehindError, MetricsPortError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    except (RuntimeError, RPCError) as exc:
        if not is_unreachable(exc):
            raise
        sys.stderr.write(
            f"error: cannot reach Temporal at {settings.temporal_address} (namespace {settings.temporal_namespace});"
            " start it with `make run` or point TEMPORAL_ADDRESS at a running server\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
    # Leave without interpreter teardown, as `capa worker` does: the SDK's Rust threads may still touch the GIL
    # while Python finalises ("PyGILState_Release", temporalio/sdk-python#300), aborting a worker that stopped
    # cleanly. Every log line is flushed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
