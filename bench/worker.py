"""The skeleton's worker process: ``python -m bench.worker ADDRESS TASK_QUEUE FIRED_LOG``.

Built like the product's (same data converter, a 16-thread pool for synchronous activities, the SDK's default
workflow cache), so the two differ only in what their workflows and activities do.
"""

import asyncio
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.skeleton import SkeletonActivities, SkeletonWorkflow


async def run(address: str, task_queue: str, fired_log: Path) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    activities = SkeletonActivities(fired_log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[SkeletonWorkflow],
            activities=[activities.open, activities.publish, activities.recipients, activities.notify],
            activity_executor=executor,
        )
        async with worker:
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
