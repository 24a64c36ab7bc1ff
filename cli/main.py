"""``capa``: the command line for people who raise, work and oversee CAPA records (entry point ``cli.main:app``).

The application and what its commands share live in ``cli.app``; each command group is a module of its own,
imported here so that its commands are registered, in the order ``capa --help`` lists them.
"""

import importlib

from cli.app import app

COMMAND_GROUPS = (
    "signin",
    "steps",
    "decisions",
    "reads",
    "stats",
    "notifications",
    "following",
    "directory",
    "operations",
    "audit",
    "procedures",  # procedure-version pinning
    "sentinels",  # recurrence sentinels
)
for _group in COMMAND_GROUPS:
    importlib.import_module(f"cli.{_group}")

__all__ = ["app"]

if __name__ == "__main__":
    app()
