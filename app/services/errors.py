"""The one error type for an unreachable dependency; the API turns it into a 503 naming it."""


class DependencyUnavailableError(Exception):
    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


def describe(error: BaseException) -> str:
    """A one-line, client-safe description of a low-level error."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
