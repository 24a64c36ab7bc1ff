"""Signing through the front ends: one product stack per test module (dev server, worker, read model, app)."""

from tests.api.conftest import api, stack

__all__ = ["api", "stack"]
