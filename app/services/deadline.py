"""A client-side deadline that holds even when a driver takes its time to give up.

`asyncio.wait_for` waits for the cancelled call to finish cleaning up. psycopg answers a
cancellation by asking the server to cancel the query and waiting for it (up to 10 s); a
frozen server never answers, so the caller would wait that long. `within` stops waiting at
the deadline and leaves the clean-up to finish in the background.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any

from app.services.errors import DependencyUnavailableError

# Abandoned calls still cleaning up; held so they are not garbage-collected mid-way.
_abandoned: set["asyncio.Future[Any]"] = set()


def _forget(task: "asyncio.Future[Any]") -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"


def _abandon(task: "asyncio.Future[Any]") -> None:
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)


async def within[T](seconds: float, dependency: str, call: Coroutine[Any, Any, T]) -> T:
    """The result of `call`, or DependencyUnavailableError("... timeout") after `seconds`."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise DependencyUnavailableError(dependency, f"timeout: no answer within {seconds:g}s")
    return task.result()


def abandoned_calls() -> int:
    """How many abandoned calls are still cleaning up (bounded by the drivers' own timeouts)."""
    return len(_abandoned)
