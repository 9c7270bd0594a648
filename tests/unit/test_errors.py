"""Public error text: a short cause for a failing dependency, never its address or driver text."""

import pytest

from app.services.errors import DependencyUnavailableError, short_cause, unavailable_on


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


def test_unavailable_on_translates_the_named_errors_only() -> None:
    with pytest.raises(DependencyUnavailableError) as caught, unavailable_on("cache", OSError):
        raise ConnectionRefusedError(111, "Connection refused")
    assert caught.value.dependency == "cache"
    assert caught.value.reason == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert caught.value.cause == "connection refused"
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    # A bug is not an outage: what the service did not name passes through unchanged.
    with pytest.raises(KeyError), unavailable_on("cache", OSError):
        raise KeyError("missing")


def test_unavailable_on_keeps_an_error_already_translated() -> None:
    inner = DependencyUnavailableError("postgresql", "timeout: no answer within 3s")
    with pytest.raises(DependencyUnavailableError) as caught, unavailable_on("cache", Exception):
        raise inner
    assert caught.value is inner


async def test_unavailable_on_wraps_awaited_calls() -> None:
    async def refuse() -> None:
        raise TimeoutError

    with (
        pytest.raises(DependencyUnavailableError, match="bus unavailable: timeout"),
        unavailable_on("bus", TimeoutError),
    ):
        await refuse()
