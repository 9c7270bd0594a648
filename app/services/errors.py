"""The one error type for an unreachable dependency; the API turns it into a 503 naming it."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

# Short, topology-free causes for public bodies in production; the full error goes to the log.
_CAUSES = (
    ("timeout", re.compile(r"time[d ]?out|deadline", re.IGNORECASE)),
    ("authentication failed", re.compile(r"auth|password|permission|credential", re.IGNORECASE)),
    ("connection refused", re.compile(r"refused|connect call failed", re.IGNORECASE)),
    ("connection lost", re.compile(r"reset|closed|broken pipe|eof|lost", re.IGNORECASE)),
)


class DependencyUnavailableError(Exception):
    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason

    @property
    def cause(self) -> str:
        return short_cause(self.reason)


def describe(error: BaseException) -> str:
    """A one-line description of a low-level error (for logs and local responses)."""
    if isinstance(error, TimeoutError) and not str(error).strip():
        return "timeout"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def short_cause(reason: str) -> str:
    """`timeout`, `authentication failed`, `connection refused`, `connection lost` or
    `unavailable`: what a public response may say about a failing dependency."""
    for cause, pattern in _CAUSES:
        if pattern.search(reason):
            return cause
    return "unavailable"


@contextmanager
def unavailable_on(dependency: str, *errors: type[BaseException]) -> Iterator[None]:
    """Inside it, any of `errors` becomes `DependencyUnavailableError(dependency, ...)`.

    Each service module names its library's failure types once and wraps its calls in this,
    so routes and dependencies never import a driver's exceptions.
    """
    try:
        yield
    except DependencyUnavailableError:
        raise  # already translated (by a nested call or a deadline): keep its dependency
    except errors as error:
        raise DependencyUnavailableError(dependency, describe(error)) from error
