"""The one error type for an unreachable dependency, and the one way to raise it.

Each service module (`app/services/*.py`) names its library's failure types once and wraps its
calls in `unavailable_on(...)`; the API turns the error into a 503 naming the dependency, so
routes never see a driver's exception types.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

# Short, topology-free causes for public bodies in production; the full error goes to the log.
_CAUSES = (
    ("timeout", re.compile(r"time[d ]?out|deadline", re.IGNORECASE)),
    # A CA that did not sign the server, a missing client certificate: TLS refused the peer.
    (
        "certificate rejected",
        re.compile(r"certificate|\b(ssl|tls)\b|handshake", re.IGNORECASE),
    ),
    ("authentication failed", re.compile(r"auth|password|permission|credential", re.IGNORECASE)),
    ("connection refused", re.compile(r"refused|connect call failed", re.IGNORECASE)),
    ("connection lost", re.compile(r"reset|closed|broken pipe|eof|lost", re.IGNORECASE)),
    # PostgreSQL during a failover: a standby refused a read-write session, or a write (25006).
    ("no primary (read-only server)", re.compile(r"read-only|hot standby", re.IGNORECASE)),
)


class DependencyUnavailableError(Exception):
    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason

    @property
    def cause(self) -> str:
        return short_cause(self.reason)


@contextmanager
def unavailable_on(dependency: str, *errors: type[BaseException]) -> Iterator[None]:
    """Inside the block, any of `errors` becomes `DependencyUnavailableError(dependency, ...)`.

    Use it as `with unavailable_on("redis", *REDIS_ERRORS): await ...` inside the coroutine,
    not as a decorator of one: a decorated `async def` would leave the block before it runs.
    """
    try:
        yield
    except DependencyUnavailableError:
        raise  # already translated (by a nested call or a deadline): keep its dependency
    except errors as error:
        raise DependencyUnavailableError(dependency, describe(error)) from error


def describe(error: BaseException) -> str:
    """A one-line description of a low-level error (for logs and local responses).

    A wrapper that carries the driver's own error as `orig` (SQLAlchemy's DBAPIError) is
    described by that error: it names the cause without the wrapper's SQL and URL text.
    """
    original = getattr(error, "orig", None)
    if isinstance(original, BaseException):
        error = original
    if isinstance(error, TimeoutError) and not str(error).strip():
        return "timeout"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def short_cause(reason: str) -> str:
    """`timeout`, `certificate rejected`, `authentication failed`, `connection refused`,
    `connection lost` or `unavailable`: what a public response may say about a failing
    dependency."""
    for cause, pattern in _CAUSES:
        if pattern.search(reason):
            return cause
    return "unavailable"
