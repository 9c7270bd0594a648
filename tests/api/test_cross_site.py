"""Cross-site requests: a web page on another origin can send form and text/plain bodies
without a CORS preflight; those get 415 and have no effect, while tools that send no
browser headers (PowerShell's Invoke-RestMethod) keep the lenient reading."""

import uuid

import httpx
import pytest
import redis

from devstack.config import HOST, StackConfig

CROSS_SITE = [
    {"Origin": "https://attacker.example", "Content-Type": "text/plain"},
    {"Origin": "https://attacker.example", "Content-Type": "application/x-www-form-urlencoded"},
    {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain;charset=UTF-8"},
    {"Origin": "null"},  # no Content-Type at all, as fetch() sends a Blob body without a type
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_redis_write_is_refused_without_effect(
    stack: StackConfig, api: httpx.Client, headers: dict[str, str]
) -> None:
    key = f"xsite-{uuid.uuid4().hex[:8]}"
    response = api.post(
        "/redis/test", content=f'{{"key":"{key}","value":"pwned"}}'.encode(), headers=headers
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    store = redis.Redis(host=HOST, port=stack.ports["redis"], socket_timeout=5)
    assert store.exists(f"sbs:test:{key}") == 0


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_workflow_start_is_refused_without_effect(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    key = f"xsite-{uuid.uuid4().hex[:8]}"
    response = api.post(
        "/test-workflow", content=b'{"name":"x"}', headers={**headers, "Idempotency-Key": key}
    )
    assert response.status_code == 415
    assert api.get(f"/test-workflow/test-workflow-key-{key}").status_code == 404


def test_json_from_any_client_and_same_tool_bodies_still_work(api: httpx.Client) -> None:
    """JSON needs a preflight cross-site (and the API answers none), so it is accepted."""
    json_from_page = api.post(
        "/redis/test",
        json={"key": "page", "value": "v"},
        headers={"Origin": "https://app.example"},
    )
    assert json_from_page.status_code == 200
    typed_by_user = api.post(
        "/redis/test",
        content=b'{"key":"typed","value":"v"}',
        headers={"Sec-Fetch-Site": "none", "Content-Type": "text/plain"},
    )
    assert typed_by_user.status_code == 200
