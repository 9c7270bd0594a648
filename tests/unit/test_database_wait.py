"""`wait_for_database` retries (tenacity) once a second, logs each failed attempt with its
progress, and gives up at DATABASE_WAIT_TIMEOUT, not later."""

import logging
import threading
import time

import pytest

from app.config import Settings
from app.migrations import DatabaseUnavailableError, wait_for_database

TIMEOUT = 2.0
# Nothing listens on port 1 of the loopback: every attempt is refused at once.
CLOSED_PORT_URL = "postgresql+psycopg://postgres:secret@127.0.0.1:1/app_db"


def test_wait_logs_each_attempt_and_gives_up_at_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        DATABASE_URL=CLOSED_PORT_URL, database_wait_timeout=TIMEOUT, dependency_connect_timeout=1
    )
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            wait_for_database(settings)
        except BaseException as error:
            outcome.append(error)

    caplog.set_level(logging.INFO, logger="app.migrations")
    started = time.monotonic()
    # A thread, so that a wait without its bound fails this test instead of hanging it.
    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(TIMEOUT + 8)
    elapsed = time.monotonic() - started

    assert not waiter.is_alive(), "wait_for_database did not stop at DATABASE_WAIT_TIMEOUT"
    assert len(outcome) == 1
    assert isinstance(outcome[0], DatabaseUnavailableError)
    assert "not reachable after 2s" in str(outcome[0])
    assert "secret" not in str(outcome[0])
    assert TIMEOUT <= elapsed < TIMEOUT + 1.0

    waits = [record for record in caplog.records if record.getMessage() == "waiting for database"]
    # Attempts at 0 s, 1 s and 2 s: the two before the last are logged as waits.
    assert [getattr(record, "attempt", None) for record in waits] == [1, 2]
    assert [getattr(record, "timeout_s", None) for record in waits] == [TIMEOUT, TIMEOUT]
    waited = [getattr(record, "waited_s", None) for record in waits]
    assert all(isinstance(value, float) for value in waited), waited
    assert waited[0] < waited[1]  # type: ignore[operator]
    assert all("Connection refused" in str(getattr(record, "error", "")) for record in waits)
    assert "database is ready" not in caplog.text
