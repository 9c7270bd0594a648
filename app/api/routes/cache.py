"""`/redis/test`: write a namespaced key with a short TTL and read it back.

The TTL is capped at DEMO_MAX_TTL_SECONDS so that demo keys cannot pile up; Redis runs with
`maxmemory-policy volatile-ttl`, which evicts only keys that have a TTL, shortest first.
"""

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from app.api.auth import scoped
from app.api.deps import ServicesDep
from app.api.responses import BODY_ERRORS, described
from app.api.routing import JsonBodyRoute
from app.services.cache import DEMO_KEY_PREFIX
from app.services.identity import CACHE_TEST

router = APIRouter(
    prefix="/redis",
    tags=["integrations"],
    route_class=JsonBodyRoute,
    dependencies=[scoped(CACHE_TEST, open_locally=True)],
)

DEMO_MAX_TTL_SECONDS = 600


class RedisTestRequest(BaseModel):
    key: str = Field(default="demo", pattern=r"^[A-Za-z0-9._:-]{1,128}$", examples=["demo"])
    value: str = Field(default="ok", max_length=4096, examples=["ok"])
    ttl_seconds: int = Field(default=300, ge=1, le=DEMO_MAX_TTL_SECONDS)


class RedisTestResponse(BaseModel):
    key: str
    stored_key: str
    value: str | None
    ttl_seconds: int


@router.post("/test", responses=described(*BODY_ERRORS, 401, 403, 503))
async def redis_test(
    services: ServicesDep, body: Annotated[RedisTestRequest | None, Body()] = None
) -> RedisTestResponse:
    request = body or RedisTestRequest()
    value = await services.cache.write_and_read(request.key, request.value, request.ttl_seconds)
    return RedisTestResponse(
        key=request.key,
        stored_key=DEMO_KEY_PREFIX + request.key,
        value=value,
        ttl_seconds=request.ttl_seconds,
    )
