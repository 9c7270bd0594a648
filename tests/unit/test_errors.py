"""Public error text: a short cause for a failing dependency, never its address or driver text."""

import pytest

from app.services.errors import DependencyUnavailableError, short_cause


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("timeout: no answer within 2s", "timeout"),
        ("RPCError: Timeout expired", "timeout"),
        (
            'OperationalError: FATAL: password authentication failed for user "x"',
            "authentication failed",
        ),
        (
            "ConnectionError: Error 111 connecting to 10.0.0.5:6379. Connection refused.",
            "connection refused",
        ),
        (
            "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 4222)",
            "connection refused",
        ),
        ("connection lost; reconnecting", "connection lost"),
        ("NoServersError: nats: no servers available for connection", "unavailable"),
    ],
)
def test_short_causes_name_the_kind_of_failure_without_topology(reason: str, cause: str) -> None:
    assert short_cause(reason) == cause
    assert DependencyUnavailableError("x", reason).cause == cause
