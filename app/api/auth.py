"""Who may call what: bearer tokens (static or OIDC/JWT), scopes, and one audit line per write.

A caller is authenticated by `Authorization: Bearer <token>`: one of the static tokens of
SBS_API_TOKEN (every scope, subject "static-token") or a JWT of the configured identity provider
(its `sub`, the scopes its claims grant). Answers follow RFC 6750: 401 with `WWW-Authenticate:
Bearer` without a token, `Bearer error="invalid_token"` with a bad one, 403 `insufficient_scope`
naming the missing scope.

Which routes need what (`scoped`): writes always need their scope; reads of /settings and the
demo endpoints only in production (locally the spec's check calls work without a token).
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, HTTPException, Request, status

from app.api.deps import services_of
from app.logging_setup import request_id_var
from app.services.identity import ANONYMOUS_CALLER, Caller, InvalidTokenError

audit_logger = logging.getLogger("sbs.audit")


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def unauthenticated(detail: str, challenge: str = "Bearer") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge}
    )


async def authenticated_caller(request: Request, scope: str) -> Caller:
    """The caller of `request` holding `scope`, else the RFC 6750 401 or 403."""
    authenticator = services_of(request).authenticator
    if not authenticator.configured:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "access is disabled: neither SBS_API_TOKEN nor OIDC_ISSUER is configured",
        )
    token = bearer_token(request)
    if token is None:
        raise unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    try:
        caller = await authenticator.authenticate(token)
    except InvalidTokenError as error:
        raise unauthenticated(
            f"invalid bearer token: {error}", 'Bearer error="invalid_token"'
        ) from None
    if not caller.holds(scope):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"the token lacks the scope '{scope}'",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return caller


def scoped(scope: str, *, open_locally: bool = False) -> Any:
    """A dependency giving the Caller that holds `scope`.

    With `open_locally`, outside production it lets everyone through as `anonymous` without
    looking at any header. It takes only the request: a sub-dependency would cost every request
    of a demo its resolution.
    """

    async def caller(request: Request) -> Caller:
        if open_locally and not services_of(request).settings.is_production:
            return ANONYMOUS_CALLER
        return await authenticated_caller(request, scope)

    check: Callable[[Request], Awaitable[Caller]] = caller
    return Depends(check)


def audit(action: str, caller: Caller, **target: str) -> None:
    """One line per write: who (the token's subject, never the token), what, which request."""
    audit_logger.info(
        "audit %s by %s",
        action,
        caller.subject,
        extra={
            "audit": action,
            "subject": caller.subject,
            **target,
            "request_id": request_id_var.get(),
        },
    )
