"""The API's stack for the admin log's API test, the same one tests/api runs against."""

from tests.api.conftest import api, stack

__all__ = ["api", "stack"]
