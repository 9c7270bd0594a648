"""A test identity provider: keys made at test time, a JWKS served on loopback, tokens it signs.

The JWKS server runs in a thread on a free 127.0.0.1 port. `hanging()` makes it accept requests
and never answer (a frozen IdP), until the block ends.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from devstack.config import HOST

ISSUER = "https://idp.example.test/realms/sbs"
AUDIENCE = "sbs-api"
HANG_AT_MOST_SECONDS = 60.0


class TestIdentityProvider:
    __test__ = False  # not a test class, despite its name

    def __init__(self) -> None:
        self.private_keys: dict[str, tuple[PrivateKeyTypes, str]] = {}
        self.published: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        # A status and body to answer instead of the key set (a broken IdP), when set.
        self.broken: tuple[int, bytes] | None = None
        self._answer = threading.Event()
        self._answer.set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                provider._answer.wait(HANG_AT_MOST_SECONDS)
                status, body = provider.broken or (
                    200,
                    json.dumps({"keys": list(provider.published.values())}).encode(),
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def jwks_url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/jwks"

    def settings(self, **overrides: str) -> dict[str, str]:
        """The API's environment variables for this IdP."""
        return {
            "OIDC_ISSUER": ISSUER,
            "OIDC_AUDIENCE": AUDIENCE,
            "OIDC_JWKS_URL": self.jwks_url,
            **overrides,
        }

    def add_key(self, kind: str = "RSA") -> str:
        """A new key pair, published in the JWKS; its kid."""
        kid = f"{kind.lower()}-{uuid.uuid4().hex[:8]}"
        if kind == "RSA":
            rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
            self.private_keys[kid] = (rsa_key, "RS256")
            public["alg"] = "RS256"
        else:
            ec_key = ec.generate_private_key(ec.SECP256R1())
            public = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
            self.private_keys[kid] = (ec_key, "ES256")
        public.update(kid=kid, use="sig")
        self.published[kid] = public
        return kid

    def withdraw(self, kid: str) -> None:
        """The key leaves the JWKS (tokens it signed can still be made)."""
        del self.published[kid]

    def claims(self, scopes: str = "", **overrides: Any) -> dict[str, Any]:
        """Valid claims for five minutes; an override of None leaves that claim out."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "service-account-reporting",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": scopes,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self, kid: str, scopes: str = "", headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        key, algorithm = self.private_keys[kid]
        return jwt.encode(
            self.claims(scopes, **claims),
            key,  # type: ignore[arg-type]
            algorithm=algorithm,
            headers={"kid": kid, **(headers or {})},
        )

    def public_pem(self, kid: str) -> bytes:
        key, _ = self.private_keys[kid]
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @contextmanager
    def hanging(self) -> Iterator[None]:
        """Requests to the JWKS are accepted and never answered until the block ends."""
        self._answer.clear()
        try:
            yield
        finally:
            self._answer.set()

    def close(self) -> None:
        self._answer.set()
        self.server.shutdown()
        self.server.server_close()


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """`alg: none`: a header and claims, no signature."""
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})  # type: ignore[arg-type]


def hmac_with_public_key(provider: TestIdentityProvider, kid: str, claims: dict[str, Any]) -> str:
    """HS256 signed with the RSA public key's PEM: the classic algorithm-confusion forgery.

    PyJWT refuses to sign with a PEM as an HMAC secret, so the JWS is put together by hand.
    """

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(provider.public_pem(kid), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"
