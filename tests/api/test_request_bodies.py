"""Request bodies the routes refuse, and how: a short excerpt of an invalid body (422), a setting
value's own cap, bodies that are not UTF-8 or JSON (400), other content types (415), and
listings that come in pages. The app in process; the body limit the server process enforces
while a body streams in (413) is in tests/integration/test_limits.py."""

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.api.routes.system_settings import MAX_PAGE_SIZE, MAX_VALUE_BYTES
from devstack.config import DATABASE_NAME, StackConfig
from devstack.servers.postgres import connect as postgres_connect

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/redis/test", b'{"key": "' + b"x" * 512_000 + b'"}'),
        ("/nats/test", b'{"message": "' + b"x" * 512_000 + b'"}'),
        ("/test-workflow", b'{"name": ' + json.dumps(["x" * 100] * 5000).encode() + b"}"),
    ],
)
def test_an_invalid_body_is_answered_with_a_short_excerpt(
    api: httpx.Client, path: str, body: bytes
) -> None:
    response = api.post(path, content=body, headers=JSON)
    assert response.status_code == 422
    assert len(response.content) < 8 * 1024
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_a_setting_value_has_its_own_cap(api: httpx.Client, auth: dict[str, str]) -> None:
    too_big = api.put("/settings/tests.capped", json={"value": "v" * MAX_VALUE_BYTES}, headers=auth)
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["body", "value"]
    assert str(MAX_VALUE_BYTES) in too_big.json()["detail"][0]["msg"]
    fits = api.put(
        "/settings/tests.capped", json={"value": "v" * (MAX_VALUE_BYTES - 100)}, headers=auth
    )
    assert fits.status_code in (200, 201)
    assert api.delete("/settings/tests.capped", headers=auth).status_code == 204


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b'{"key": nope}', "not valid JSON"), (b'{"key": "\xff\xfe"}', "not valid UTF-8")],
)
def test_a_body_that_is_not_json_or_not_utf8_is_a_400_saying_which(
    api: httpx.Client, body: bytes, problem: str
) -> None:
    response = api.post("/redis/test", content=body, headers=JSON)
    assert response.status_code == 400
    assert problem in response.json()["detail"]


def test_an_unsupported_content_type_is_415(api: httpx.Client) -> None:
    response = api.post(
        "/redis/test", content=b"<key>x</key>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


@pytest.fixture
def many_settings(stack: StackConfig) -> Iterator[list[str]]:
    prefix = f"tests.page_{uuid.uuid4().hex[:6]}"
    keys = [f"{prefix}.k{number:04d}" for number in range(1500)]
    with postgres_connect(stack, DATABASE_NAME) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO system_settings (key, value) VALUES (%s, '1'::jsonb)",
            [(key,) for key in keys],
        )
    try:
        yield keys
    finally:
        with postgres_connect(stack, DATABASE_NAME) as connection:
            connection.execute("DELETE FROM system_settings WHERE key LIKE %s", (prefix + ".%",))


def test_the_settings_list_is_paginated(api: httpx.Client, many_settings: list[str]) -> None:
    first = api.get("/settings")
    assert first.status_code == 200
    assert len(first.json()["items"]) <= MAX_PAGE_SIZE
    assert first.json()["next_after"] is not None
    assert api.get("/settings", params={"limit": MAX_PAGE_SIZE + 1}).status_code == 422

    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": MAX_PAGE_SIZE}
        if after is not None:
            params["after"] = after
        page = api.get("/settings", params=params).json()
        assert len(page["items"]) <= MAX_PAGE_SIZE
        seen += [item["key"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == sorted(seen)
    assert set(many_settings) <= set(seen)
