"""Who a bearer token stands for: a static token of SBS_API_TOKEN, or a JWT of the IdP.

Static tokens hold every scope under the subject "static-token". JWTs come from the company's
identity provider and are verified against its JWKS; their `sub` and the scopes their claims
grant (OIDC_SCOPE_CLAIMS) make the caller.

PyJWT verifies (signature, `exp`/`nbf` with a leeway, `iss`, `aud`, allowed algorithms); the key
set is fetched here with httpx's async client, so a slow or silent IdP never blocks the event loop.
A fetch is bounded by OIDC_JWKS_TIMEOUT as a whole (`within`, not only per socket read).

Keys are cached for OIDC_JWKS_CACHE_SECONDS. A token whose `kid` the cache lacks (the IdP rotated
its key) fetches the set again at once, but never more often than OIDC_JWKS_REFRESH_INTERVAL:
made-up kids cost the IdP at most one request per interval. When a fetch fails, the keys already
held keep working (the IdP's outage does not lock every caller out); a token whose key was never
seen cannot be checked then, and the caller gets a 503 naming `identity-provider`.
"""

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from app.config import Settings, comma_list
from app.services.deadline import within
from app.services.errors import DependencyUnavailableError, unavailable_on

logger = logging.getLogger(__name__)

IDENTITY_PROVIDER = "identity-provider"
# Required in every accepted token: who it is for, who issued it, until when, and whom it names.
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
MAX_JWKS_BYTES = 1024 * 1024

type JsonWebKey = dict[str, Any]


class InvalidTokenError(Exception):
    """The token is not acceptable; the message says why (it never quotes the token)."""


class JwksCache:
    """The IdP's signing keys by `kid`, fetched on first use and refreshed as described above."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_age: float,
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._keys: dict[str, JsonWebKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at = -float("inf")  # last fetch, successful or not
        self._failure: str | None = None  # why the last fetch failed, while it is the last
        self._lock = asyncio.Lock()
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def key(self, kid: str) -> JsonWebKey | None:
        """The key `kid`, or None when the IdP's current set does not have it.

        Raises DependencyUnavailableError when the set could not be fetched and `kid` is not
        among the keys already held.
        """
        if not self._needs_fetch(kid):
            return self._known(kid)
        async with self._lock:  # one fetch at a time; the others wait for its result
            if self._needs_fetch(kid) and self._may_fetch():
                await self._refresh()
        return self._known(kid)

    def _needs_fetch(self, kid: str) -> bool:
        if kid not in self._keys:
            return True
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age

    def _may_fetch(self) -> bool:
        return self._clock() - self._attempted_at >= self.refresh_interval

    def _known(self, kid: str) -> JsonWebKey | None:
        key = self._keys.get(kid)
        if key is None and self._failure is not None:
            raise DependencyUnavailableError(IDENTITY_PROVIDER, self._failure)
        return key

    async def _refresh(self) -> None:
        try:
            keys = await within(self.timeout, IDENTITY_PROVIDER, self._fetch())
        except DependencyUnavailableError as error:
            # The interval counts from the end of an attempt: callers that queued behind a
            # fetch that timed out take its answer instead of each waiting for one of their own.
            self._attempted_at = self._clock()
            self._failure = error.reason
            logger.warning(
                "identity provider's JWKS unavailable: %s (%d keys held)",
                error.reason,
                len(self._keys),
            )
            return
        if set(keys) != set(self._keys):
            logger.info("identity provider's signing keys: %s", ", ".join(sorted(keys)) or "none")
        self._attempted_at = self._fetched_at = self._clock()
        self._keys, self._failure = keys, None

    async def _fetch(self) -> dict[str, JsonWebKey]:
        with unavailable_on(IDENTITY_PROVIDER, httpx.HTTPError):
            response = await self._client.get(self.url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise DependencyUnavailableError(
                IDENTITY_PROVIDER, f"JWKS answered HTTP {response.status_code}"
            )
        if len(response.content) > MAX_JWKS_BYTES:
            raise DependencyUnavailableError(IDENTITY_PROVIDER, "JWKS larger than 1 MiB")
        try:
            listed = response.json()["keys"]
        except (ValueError, KeyError, TypeError):
            listed = None
        if not isinstance(listed, list):
            raise DependencyUnavailableError(
                IDENTITY_PROVIDER, 'JWKS is not a JSON object with a "keys" list'
            )
        return {
            key["kid"]: key
            for key in listed
            if isinstance(key, dict)
            and isinstance(key.get("kid"), str)
            and key.get("use", "sig") == "sig"
        }

    async def close(self) -> None:
        await self._client.aclose()


class TokenVerifier:
    """Verifies a JWT from the configured issuer and says which scopes its claims grant."""

    def __init__(self, settings: Settings, keys: JwksCache) -> None:
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = list(comma_list(settings.oidc_algorithms))
        self.leeway = settings.oidc_leeway_seconds
        self.scope_claims = comma_list(settings.oidc_scope_claims)
        self.keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier | None":
        if not settings.oidc_enabled:
            return None
        keys = JwksCache(
            settings.oidc_jwks_url,
            timeout=settings.oidc_jwks_timeout,
            max_age=settings.oidc_jwks_cache_seconds,
            refresh_interval=settings.oidc_jwks_refresh_interval,
        )
        return cls(settings, keys)

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once everything checks out, else InvalidTokenError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("neither a static token nor a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise InvalidTokenError(
                f"algorithm not allowed (allowed: {', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("token names no signing key (kid)")
        # The claims first, unverified: a token that would be refused anyway (expired, another
        # issuer or audience) never makes the API fetch keys.
        self._decode(token, key="", verify_signature=False)
        jwk = await self.keys.key(kid)
        if jwk is None:
            raise InvalidTokenError("signing key (kid) unknown to the identity provider")
        if jwk.get("alg", algorithm) != algorithm:
            raise InvalidTokenError("token algorithm does not match its key's")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWTError:
            raise InvalidTokenError("token algorithm does not fit its key") from None
        return self._decode(token, key=key, verify_signature=True)

    def _decode(
        self, token: str, *, key: jwt.PyJWK | str, verify_signature: bool
    ) -> dict[str, Any]:
        options: jwt.types.Options = {
            "verify_signature": verify_signature,
            "verify_exp": True,
            "verify_nbf": True,
            "verify_iss": True,
            "verify_aud": True,
            "require": REQUIRED_CLAIMS,
        }
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=self.algorithms,
                options=options,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("token not valid yet (nbf)") from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("token from another issuer") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("token for another audience") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidTokenError(f"token lacks the claim '{error.claim}'") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("signature does not verify") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("malformed token") from None
        return claims

    def scopes(self, claims: dict[str, Any]) -> frozenset[str]:
        """Every scope any of OIDC_SCOPE_CLAIMS grants: `scope`/`scp` as a space-separated
        string (OAuth 2) or a list (Okta, Azure AD), `roles` or `realm_access.roles` as a list."""
        granted: set[str] = set()
        for path in self.scope_claims:
            granted.update(claim_values(claims, path.split(".")))
        return frozenset(granted)

    async def close(self) -> None:
        await self.keys.close()


def claim_values(claims: Any, path: Iterable[str]) -> list[str]:
    value = claims
    for part in path:
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


SETTINGS_READ = "settings:read"
SETTINGS_WRITE = "settings:write"
WORKFLOWS_START = "workflows:start"
BUS_TEST = "bus:test"
CACHE_TEST = "cache:test"
SCOPES = (SETTINGS_READ, SETTINGS_WRITE, WORKFLOWS_START, BUS_TEST, CACHE_TEST)
STATIC_SUBJECT = "static-token"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[str]
    # A static token is the operator's own key: it holds every scope, the platform's and those a
    # team adds for its own routes (the recipes' `scoped("notes:write")`).
    every_scope: bool = False

    def holds(self, scope: str) -> bool:
        return self.every_scope or scope in self.scopes


ANONYMOUS_CALLER = Caller(ANONYMOUS, frozenset())


class Authenticator:
    """Turns a bearer token into a Caller: a static token first, then a JWT of the IdP."""

    def __init__(self, settings: Settings, verifier: TokenVerifier | None) -> None:
        self.static_tokens = tuple(token.encode() for token in settings.api_tokens)
        self.verifier = verifier

    @classmethod
    def from_settings(cls, settings: Settings) -> "Authenticator":
        return cls(settings, TokenVerifier.from_settings(settings))

    @property
    def configured(self) -> bool:
        return bool(self.static_tokens) or self.verifier is not None

    def is_static(self, token: str) -> bool:
        presented = token.encode()
        matched = False
        for expected in self.static_tokens:  # every one compared: the time names no position
            matched |= hmac.compare_digest(presented, expected)
        return matched

    async def authenticate(self, token: str) -> Caller:
        """The caller `token` stands for; InvalidTokenError, or DependencyUnavailableError when
        the identity provider cannot be asked for a key it must vouch for."""
        if self.is_static(token):
            return Caller(STATIC_SUBJECT, frozenset(SCOPES), every_scope=True)
        if self.verifier is None:
            raise InvalidTokenError("not a configured token")
        claims = await self.verifier.verify(token)
        return Caller(str(claims["sub"]), self.verifier.scopes(claims))

    async def close(self) -> None:
        if self.verifier is not None:
            await self.verifier.close()
