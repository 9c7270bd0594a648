"""Bearer tokens in process: JWTs of a test IdP (keys made here, JWKS served on loopback) and
static tokens, through the Authenticator the API uses."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.config import Settings
from app.services.errors import DependencyUnavailableError
from app.services.identity import (
    SETTINGS_READ,
    SETTINGS_WRITE,
    STATIC_SUBJECT,
    Authenticator,
    InvalidTokenError,
    JwksCache,
    TokenVerifier,
)
from tests.identity_provider import (
    TestIdentityProvider,
    hmac_with_public_key,
    unsigned_token,
)

JWKS_TIMEOUT = 1.0
CACHE_SECONDS = 60.0
REFRESH_INTERVAL = 10.0


class Clock:
    """The cache's time, moved by the test: no sleeping for a cache to age."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> Iterator[TestIdentityProvider]:
    idp = TestIdentityProvider()
    try:
        yield idp
    finally:
        idp.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings_for(provider: TestIdentityProvider, **overrides: Any) -> Settings:
    variables = {name.lower(): value for name, value in provider.settings().items()}
    return Settings.model_validate({**variables, **overrides})


@pytest.fixture
async def authenticator(
    provider: TestIdentityProvider, clock: Clock
) -> AsyncIterator[Authenticator]:
    settings = settings_for(provider, sbs_api_token="first-static-token, second-static-token")
    keys = JwksCache(
        provider.jwks_url,
        timeout=JWKS_TIMEOUT,
        max_age=CACHE_SECONDS,
        refresh_interval=REFRESH_INTERVAL,
        clock=clock,
    )
    authenticator = Authenticator(settings, TokenVerifier(settings, keys))
    try:
        yield authenticator
    finally:
        await authenticator.close()


async def test_a_valid_token_names_its_subject_and_scopes(
    provider: TestIdentityProvider, authenticator: Authenticator
) -> None:
    for kid in [provider.add_key("RSA"), provider.add_key("EC")]:
        caller = await authenticator.authenticate(provider.token(kid, f"openid {SETTINGS_READ}"))
        assert caller.subject == "service-account-reporting"
        assert SETTINGS_READ in caller.scopes
        assert SETTINGS_WRITE not in caller.scopes


def rejected_tokens(provider: TestIdentityProvider, kid: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "expired": provider.token(kid, exp=now - 120),
        "not-yet-valid": provider.token(kid, nbf=now + 120),
        "wrong-issuer": provider.token(kid, iss="https://evil.example.com"),
        "wrong-audience": provider.token(kid, aud="another-api"),
        "no-subject": provider.token(kid, sub=None),
        "alg-none": unsigned_token(provider.claims(), kid),
        "hs256-with-public-key": hmac_with_public_key(provider, kid, provider.claims()),
        "not-a-jwt": "a.b",
    }


EXPECTED_REASONS = {
    "expired": "expired",
    "not-yet-valid": "not valid yet",
    "wrong-issuer": "another issuer",
    "wrong-audience": "another audience",
    "no-subject": "'sub'",
    "alg-none": "algorithm not allowed",
    "hs256-with-public-key": "algorithm not allowed",
    "not-a-jwt": "neither a static token nor a JWT",
}


@pytest.mark.parametrize("case", sorted(EXPECTED_REASONS))
async def test_invalid_tokens_are_refused_naming_why_without_asking_the_idp(
    provider: TestIdentityProvider, authenticator: Authenticator, case: str
) -> None:
    """Each is refused before any key is fetched: even a hanging JWKS costs them nothing."""
    kid = provider.add_key("RSA")
    token = rejected_tokens(provider, kid)[case]
    started = time.monotonic()
    with provider.hanging(), pytest.raises(InvalidTokenError) as refused:
        await authenticator.authenticate(token)
    assert EXPECTED_REASONS[case] in str(refused.value)
    assert time.monotonic() - started < JWKS_TIMEOUT
    assert token not in str(refused.value)


async def test_a_small_clock_skew_is_tolerated(
    provider: TestIdentityProvider, authenticator: Authenticator
) -> None:
    kid = provider.add_key("RSA")
    now = int(time.time())
    caller = await authenticator.authenticate(provider.token(kid, exp=now - 10, nbf=now + 10))
    assert caller.subject == "service-account-reporting"


async def test_a_forged_signature_is_refused(
    provider: TestIdentityProvider, authenticator: Authenticator
) -> None:
    kid = provider.add_key("RSA")
    other = provider.add_key("RSA")
    provider.withdraw(other)
    forged = provider.token(other, headers={"kid": kid})  # signed by a key the IdP never published
    with pytest.raises(InvalidTokenError, match="signature does not verify"):
        await authenticator.authenticate(forged)


async def test_unknown_kid_is_refused_and_fetches_at_most_once_per_interval(
    provider: TestIdentityProvider, authenticator: Authenticator, clock: Clock
) -> None:
    kid = provider.add_key("RSA")
    await authenticator.authenticate(provider.token(kid))
    assert provider.fetches == 1
    unknown = provider.add_key("RSA")
    provider.withdraw(unknown)
    clock.now += REFRESH_INTERVAL
    for _ in range(20):
        with pytest.raises(InvalidTokenError, match="signing key"):
            await authenticator.authenticate(provider.token(unknown))
    assert provider.fetches == 2  # one refresh for twenty made-up kids


async def test_rotation_needs_no_restart_and_retires_the_old_key_within_the_cache_time(
    provider: TestIdentityProvider, authenticator: Authenticator, clock: Clock
) -> None:
    old = provider.add_key("RSA")
    old_token = provider.token(old)
    await authenticator.authenticate(old_token)
    new = provider.add_key("EC")  # the IdP publishes a new key and signs with it at once
    clock.now += REFRESH_INTERVAL
    assert (await authenticator.authenticate(provider.token(new))).subject
    provider.withdraw(old)
    clock.now += CACHE_SECONDS - 1
    await authenticator.authenticate(old_token)  # still within the cache time
    clock.now += 1
    with pytest.raises(InvalidTokenError, match="signing key"):
        await authenticator.authenticate(old_token)
    await authenticator.authenticate(provider.token(new))


async def test_a_hanging_jwks_answers_unavailable_within_its_timeout_and_keeps_known_keys(
    provider: TestIdentityProvider, authenticator: Authenticator, clock: Clock
) -> None:
    known = provider.add_key("RSA")
    await authenticator.authenticate(provider.token(known))
    fresh = provider.add_key("RSA")
    clock.now += CACHE_SECONDS  # the cache is due for a refresh, and the IdP hangs
    with provider.hanging():
        started = time.monotonic()
        with pytest.raises(DependencyUnavailableError) as unavailable:
            await authenticator.authenticate(provider.token(fresh))
        assert time.monotonic() - started < JWKS_TIMEOUT + 0.5
        assert unavailable.value.dependency == "identity-provider"
        assert "timeout" in unavailable.value.reason
        # Keys already held keep working while the IdP is down.
        assert (await authenticator.authenticate(provider.token(known))).subject
    clock.now += REFRESH_INTERVAL
    assert (await authenticator.authenticate(provider.token(fresh))).subject


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b"{}", "JWKS answered HTTP 500"),
        (200, b"<html>login</html>", 'a "keys" list'),
        (200, b'{"keys": 5}', 'a "keys" list'),
    ],
)
async def test_a_broken_jwks_is_a_503_naming_the_identity_provider(
    provider: TestIdentityProvider,
    authenticator: Authenticator,
    status: int,
    body: bytes,
    reason: str,
) -> None:
    kid = provider.add_key("RSA")
    provider.broken = (status, body)
    with pytest.raises(DependencyUnavailableError) as unavailable:
        await authenticator.authenticate(provider.token(kid))
    assert unavailable.value.dependency == "identity-provider"
    assert reason in unavailable.value.reason


async def test_static_tokens_each_work_with_every_scope(authenticator: Authenticator) -> None:
    for token in ("first-static-token", "second-static-token"):
        caller = await authenticator.authenticate(token)
        assert caller.subject == STATIC_SUBJECT
        assert {SETTINGS_READ, SETTINGS_WRITE} <= caller.scopes
    with pytest.raises(InvalidTokenError):
        await authenticator.authenticate("third-static-token")


@pytest.mark.parametrize(
    ("claim_paths", "claims", "granted"),
    [
        ("scope,scp,roles", {"scope": "openid settings:read"}, {"openid", "settings:read"}),
        ("scope,scp,roles", {"scp": ["settings:read", "bus:test"]}, {"settings:read", "bus:test"}),
        ("scope,scp,roles", {"scp": "settings:write"}, {"settings:write"}),
        ("scope,scp,roles", {"roles": ["settings:read"], "scope": 7}, {"settings:read"}),
        ("realm_access.roles", {"realm_access": {"roles": ["settings:read"]}}, {"settings:read"}),
        ("realm_access.roles", {"realm_access": ["settings:read"]}, set()),
        ("scope", {"roles": ["settings:write"]}, set()),
    ],
)
def test_scopes_come_from_the_configured_claims(
    provider: TestIdentityProvider, claim_paths: str, claims: dict[str, Any], granted: set[str]
) -> None:
    settings = settings_for(provider, oidc_scope_claims=claim_paths)
    verifier = TokenVerifier.from_settings(settings)
    assert verifier is not None
    assert verifier.scopes(claims) == granted


async def test_concurrent_callers_share_one_fetch_and_answer_within_one_timeout(
    provider: TestIdentityProvider,
) -> None:
    """Twenty callers with keys never seen, the IdP hanging, a refresh interval shorter than the
    fetch timeout: one fetch, and every caller answered within about one timeout."""
    settings = settings_for(provider)
    timeout = 0.5
    keys = JwksCache(provider.jwks_url, timeout=timeout, max_age=60, refresh_interval=0.1)
    authenticator = Authenticator(settings, TokenVerifier(settings, keys))
    tokens = [provider.token(provider.add_key("EC")) for _ in range(20)]

    async def refused(token: str) -> BaseException | None:
        try:
            await authenticator.authenticate(token)
        except (DependencyUnavailableError, InvalidTokenError) as error:
            return error
        return None

    try:
        with provider.hanging():
            started = time.monotonic()
            outcomes = await asyncio.gather(*(refused(token) for token in tokens))
            elapsed = time.monotonic() - started
    finally:
        await authenticator.close()
    assert all(isinstance(outcome, DependencyUnavailableError) for outcome in outcomes)
    assert provider.fetches == 1
    assert elapsed < timeout + 0.5
