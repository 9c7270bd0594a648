"""Platform version and build."""

from fastapi import APIRouter
from pydantic import BaseModel

from app import __version__
from app.api.deps import ServicesDep
from app.api.responses import described

router = APIRouter(tags=["platform"])


class VersionInfo(BaseModel):
    version: str
    build: str


@router.get("/version", responses=described())
async def version(services: ServicesDep) -> VersionInfo:
    return VersionInfo(version=__version__, build=services.build)
