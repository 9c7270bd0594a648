"""Size limits the API process enforces while a request streams in: bodies (413) without the
process growing, headers (431). What the routes refuse of a body is in
tests/api/test_request_bodies.py."""

import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from devstack import process
from devstack.config import HOST, StackConfig

DEFAULTS = Settings()
MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


def memory_bytes(stack: StackConfig, field: str) -> int:
    pid = process.running_pid(stack.state_dir, "api")
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


def reset_peak_memory(stack: StackConfig) -> None:
    """Start VmHWM (the peak RSS) afresh, so growth that came and went is seen."""
    pid = process.running_pid(stack.state_dir, "api")
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def test_a_30_mb_body_is_refused_naming_the_limit_without_growing_the_api(
    stack: StackConfig, api: httpx.Client, auth: dict[str, str]
) -> None:
    reset_peak_memory(stack)
    before = memory_bytes(stack, "VmRSS")
    body = b'{"value": "' + b"a" * (30 * MIB) + b'"}'
    declared = api.put("/settings/tests.huge", content=body, headers={**auth, **JSON})
    assert declared.status_code == 413
    assert "MAX_REQUEST_BODY_BYTES" in declared.json()["detail"]
    assert str(DEFAULTS.max_request_body_bytes) in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it streams in
        yield b'{"value": "'
        for _ in range(30):
            yield b"a" * MIB

    streamed = api.put("/settings/tests.huge", content=chunks(), headers={**auth, **JSON})
    assert streamed.status_code == 413
    assert "MAX_REQUEST_BODY_BYTES" in streamed.json()["detail"]
    assert memory_bytes(stack, "VmHWM") - before < 64 * MIB
    assert api.get("/settings/tests.huge").status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "a" * 256 * 1024},
        {f"X-Header-{number}": "v" for number in range(10_000)},
        # Over the cap, yet small enough to arrive in one read: measured once it is whole.
        {"X-Big": "a" * 40 * 1024},
    ],
    ids=["one-256KB-header", "10000-headers", "one-40KB-header"],
)
def test_oversized_headers_get_431(
    stack: StackConfig, api: httpx.Client, headers: dict[str, str]
) -> None:
    # http.client, not httpx: httpx takes quadratic time over 10,000 headers (9 s here, over a
    # minute under coverage) before the first byte leaves.
    connection = http.client.HTTPConnection(HOST, stack.ports["api"], timeout=30)
    try:
        connection.putrequest("GET", "/version")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 431
        assert str(DEFAULTS.max_request_header_bytes) in response.read().decode()
    finally:
        connection.close()
    assert api.get("/version").status_code == 200
