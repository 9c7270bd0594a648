"""Platform version and build."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app import __version__
from app.api.deps import services_of
from app.api.responses import described

router = APIRouter(tags=["platform"])


class VersionInfo(BaseModel):
    version: str
    build: str


# The body is the same for the life of the process: encoded once per build, not validated and
# serialised again on every request (that was ≈ 20 µs, more than the rest of the route).
_bodies: dict[str, bytes] = {}


@router.get("/version", response_model=VersionInfo, responses=described())
async def version(request: Request) -> Response:
    services = services_of(request)
    body = _bodies.get(services.build)
    if body is None:
        info = VersionInfo(version=__version__, build=services.build)
        body = _bodies[services.build] = info.model_dump_json().encode()
    return Response(body, media_type="application/json")
