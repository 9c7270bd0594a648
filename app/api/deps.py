"""Request-time access to the application's services, as `Annotated` dependencies."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.state import Services


def services_of(request: Request) -> Services:
    """The app's services, for code on a hot path that takes the request rather than a
    dependency (each dependency costs FastAPI ~10 µs a request to resolve)."""
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async: a plain `def` dependency would run in the thread pool on every request.
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]

bearer = HTTPBearer(auto_error=False, description="SBS_API_TOKEN")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def check_token(expected: str, credentials: HTTPAuthorizationCredentials | None) -> None:
    """`Authorization: Bearer <SBS_API_TOKEN>`, answered as RFC 6750 describes."""
    if not expected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "writes are disabled: SBS_API_TOKEN is not configured"
        )
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <SBS_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


async def require_write_token(services: ServicesDep, credentials: BearerDep) -> None:
    """Writes always need the token; without a configured token there are none."""
    check_token(services.settings.sbs_api_token, credentials)


async def require_demo_access(request: Request) -> None:
    """The demo endpoints are open locally and need the token in production.

    It takes only the request: locally (every request of a demo) nothing but the
    environment is looked at, and a sub-dependency would cost each of them its resolution.
    """
    settings = services_of(request).settings
    if settings.is_production:
        check_token(settings.sbs_api_token, await bearer(request))


WriteAccess = Depends(require_write_token)
DemoAccess = Depends(require_demo_access)
