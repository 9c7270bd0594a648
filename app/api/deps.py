"""Request-time access to the application's services, as `Annotated` dependencies."""

from typing import Annotated

from fastapi import Depends, Request

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
