"""Public error text: a short cause for a failing dependency, never its address or driver text."""

import pytest

from app.services.errors import DependencyUnavailableError, describe, short_cause, unavailable_on


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("timeout: no answer within 2s", "timeout"),
        ("RPCError: Timeout expired", "timeout"),
        (
            "ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction",
            "no primary (read-only server)",
        ),
        (
            'OperationalError: connection failed: connection to server at "10.0.0.6", port 5432'
            " failed: server is in hot standby mode",
            "no primary (read-only server)",
        ),
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
        (
            "RuntimeError: Failed client connect: Server connection error: tonic::transport::"
            "Error(Transport, ConnectError(Custom { kind: InvalidData, error: "
            "InvalidCertificate(UnknownIssuer) }))",
            "certificate rejected",
        ),
        (
            "RuntimeError: Failed client connect: `get_system_info` call error after connection: "
            'Status { code: Unknown, message: "received fatal alert: CertificateRequired" }',
            "certificate rejected",
        ),
        ("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED]", "certificate rejected"),
        ("NoServersError: nats: no servers available for connection", "unavailable"),
    ],
)
def test_short_causes_name_the_kind_of_failure_without_topology(reason: str, cause: str) -> None:
    assert short_cause(reason) == cause
    assert DependencyUnavailableError("x", reason).cause == cause


class DriverError(Exception):
    pass


class WrappedDriverError(Exception):
    """Like SQLAlchemy's DBAPIError: the driver's own error is carried as `orig`."""

    def __init__(self, orig: BaseException) -> None:
        super().__init__(f"(wrapper) {orig}\n[SQL: SELECT 1]")
        self.orig = orig


def test_unavailable_on_turns_the_declared_errors_into_one_naming_the_dependency() -> None:
    cause = DriverError("Connection refused\nsecond line")
    with pytest.raises(DependencyUnavailableError) as raised, unavailable_on("redis", DriverError):
        raise cause
    assert raised.value.dependency == "redis"
    assert raised.value.reason == "DriverError: Connection refused"
    assert raised.value.__cause__ is cause


def test_unavailable_on_lets_other_errors_through() -> None:
    with pytest.raises(ValueError, match="a bug"), unavailable_on("redis", DriverError):
        raise ValueError("a bug")


def test_unavailable_on_describes_a_wrapped_driver_error_by_the_driver_error() -> None:
    wrapped = WrappedDriverError(ConnectionRefusedError("[Errno 111] refused"))
    with (
        pytest.raises(DependencyUnavailableError) as raised,
        unavailable_on("postgresql", WrappedDriverError),
    ):
        raise wrapped
    assert raised.value.reason == "ConnectionRefusedError: [Errno 111] refused"
    assert describe(TimeoutError()) == "timeout"


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
