"""The report's routes under test: one product stack (dev server, worker, read model, app) for the module."""

from tests.api.conftest import api, stack

__all__ = ["api", "stack"]
