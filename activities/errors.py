"""The ``type`` of every non-retryable activity failure, so workflows and front-ends match on one spelling.

Anything not listed here (a database outage, a lock timeout) is retried by Temporal until it succeeds.
"""

# The activity was called with input no retry can make valid; it signals a bug in the caller.
INVALID_INPUT = "InvalidActivityInput"
