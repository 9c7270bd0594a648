"""Request-time access to the application's services, as `Annotated` dependencies."""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.state import Services
from app.services.errors import DependencyUnavailableError, describe


async def get_services(request: Request) -> Services:
    # async: a plain `def` dependency would run in the thread pool on every request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session whose connection failures surface as "postgresql unavailable" (503).

    Only failures of the server or the connection count: a statement PostgreSQL rejects is
    a bug or an unvalidated input, not an outage.
    """
    async with services.session_factory() as session:
        try:
            yield session
        except (OperationalError, InterfaceError, PoolTimeoutError) as error:
            reason = describe(getattr(error, "orig", None) or error)
            raise DependencyUnavailableError("postgresql", reason) from error


SessionDep = Annotated[AsyncSession, Depends(get_session)]

bearer = HTTPBearer(auto_error=False, description="SBS_API_TOKEN")


async def require_write_token(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Writes need `Authorization: Bearer <SBS_API_TOKEN>`; without a configured token, none."""
    expected = services.settings.sbs_api_token
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
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid bearer token")


WriteAccess = Depends(require_write_token)
