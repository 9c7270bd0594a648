"""`/redis/test`: write a namespaced key with a TTL and read it back."""

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from app.api.deps import ServicesDep
from app.api.routing import LenientJsonRoute
from app.services.cache import DEMO_KEY_PREFIX

router = APIRouter(prefix="/redis", tags=["integrations"], route_class=LenientJsonRoute)


class RedisTestRequest(BaseModel):
    key: str = Field(default="demo", pattern=r"^[A-Za-z0-9._:-]{1,128}$", examples=["demo"])
    value: str = Field(default="ok", max_length=4096, examples=["ok"])
    ttl_seconds: int = Field(default=300, ge=1, le=86400)


class RedisTestResponse(BaseModel):
    key: str
    stored_key: str
    value: str | None
    ttl_seconds: int


@router.post("/test", responses={503: {"description": "Redis is unavailable."}})
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
