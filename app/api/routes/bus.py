"""`/nats/test`: request/reply over NATS, answered by the API's own echo responder."""

import time
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from app.api.auth import scoped
from app.api.deps import ServicesDep
from app.api.responses import BODY_ERRORS, described
from app.api.routing import JsonBodyRoute
from app.services.identity import BUS_TEST

router = APIRouter(
    prefix="/nats",
    tags=["integrations"],
    route_class=JsonBodyRoute,
    dependencies=[scoped(BUS_TEST, open_locally=True)],
)


class NatsTestRequest(BaseModel):
    message: str = Field(default="ping", min_length=1, max_length=4096, examples=["ping"])


class NatsTestResponse(BaseModel):
    subject: str
    sent: str
    echo: str
    round_trip_ms: float


@router.post("/test", responses=described(*BODY_ERRORS, 401, 403, 503))
async def nats_test(
    services: ServicesDep, body: Annotated[NatsTestRequest | None, Body()] = None
) -> NatsTestResponse:
    request = body or NatsTestRequest()
    started = time.perf_counter()
    reply = await services.nats.request(request.message.encode())
    return NatsTestResponse(
        subject=services.settings.nats_subject,
        sent=request.message,
        echo=reply.decode(errors="replace"),
        round_trip_ms=round((time.perf_counter() - started) * 1000, 3),
    )
