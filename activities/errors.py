"""The ``type`` of every non-retryable activity failure, so workflows and front-ends match on one spelling.

Anything not listed here (a database outage, a lock timeout) is retried by Temporal until it succeeds.
"""

# The activity was called with input no retry can make valid; it signals a bug in the caller.
INVALID_INPUT = "InvalidActivityInput"

# A notification channel refused the message for good (webhook 4xx, SMTP 5xx): retrying cannot help.
DELIVERY_REFUSED = "DeliveryRefused"

# A notification channel failed for now (connection refused, HTTP 5xx, SMTP 4xx); Temporal retries it.
DELIVERY_FAILED = "DeliveryFailed"

# An outbox row to deliver does not exist (the database was replaced under a running delivery).
NO_SUCH_MESSAGE = "NoSuchMessage"


class DeliveryError(Exception):
    """A channel did not take a message; ``permanent`` when a retry would be refused the same way."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent
