"""How quickly ``capa`` answers a person: ``capa --help`` and a read of the directory, each a new process as at a
terminal, timed from start to exit."""

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CAPA = Path(sys.executable).with_name("capa")
# (what is run, its arguments, the target in seconds on an idle two-core machine)
COMMANDS = (("capa --help", ["--help"], 0.3), ("capa users list", ["users", "list"], 0.8))


@dataclass
class CommandTime:
    command: str
    seconds: list[float]
    target: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def command_times(database_url: str, runs: int, api_url: str, token: str) -> list[CommandTime]:
    """Each command ``runs`` times against the bench's read model, through its HTTP API with an admin's API token
    (as a person's sign-in acts); a command that fails stops the figure."""
    env = os.environ | {
        "CAPA_DATABASE_URL": database_url,
        "CAPA_LOG_LEVEL": "warning",
        "CAPA_API_URL": api_url,
        "CAPA_TOKEN": token,
    }
    figures = []
    for command, arguments, target in COMMANDS:
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([str(CAPA), *arguments], env=env, check=True, capture_output=True)
            seconds.append(time.perf_counter() - began)
        figures.append(CommandTime(command, seconds, target))
    return figures
