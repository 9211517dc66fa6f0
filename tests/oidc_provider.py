"""A small, real OpenID Connect provider on loopback, for the single sign-on tests.

A Starlette app served by uvicorn in a thread, on a socket bound to port 0: discovery, a JWKS
with one RS256 key (made with `cryptography`), an authorization endpoint that approves the
configured email at once, and a token endpoint that authenticates the client and checks the
code, its redirect URI and the PKCE verifier (S256) as a provider must. Its ID tokens are signed
here by hand with `cryptography`, independently of the library Dagy validates them with.

Each knob on `OidcProvider` breaks one thing the relying party must notice (a foreign audience,
an expired token, another nonce, another signing key...); `reset()` puts them back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "dagy-web"
CLIENT_SECRET = "provider-side-secret-of-dagy"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Grant:
    """An authorization code the provider handed out, and what it was bound to."""

    redirect_uri: str
    code_challenge: str
    nonce: str | None
    email: str | None


@dataclass
class OidcProvider:
    """The provider's registration of Dagy, its key, the user it signs in and its knobs."""

    issuer: str = ""
    redirect_uri: str = ""
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = "key-1"
    grants: dict[str, Grant] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)  # why the token endpoint said no
    # What the next sign-in says, and how the ID token is broken (reset by `reset()`).
    email: str | None = None
    email_verified: Any = True
    authorize_error: str | None = None
    audience: str | None = None
    token_issuer: str | None = None
    nonce: str | None = None
    lifetime_seconds: int = 300
    signing_key: rsa.RSAPrivateKey | None = None
    unsigned: bool = False  # `alg: none`, which the discovery document lists to tempt the client

    def reset(self) -> None:
        self.grants.clear()
        self.refusals.clear()
        self.email, self.email_verified, self.authorize_error = None, True, None
        self.audience = self.token_issuer = self.nonce = None
        self.lifetime_seconds, self.signing_key, self.unsigned = 300, None, False

    def jwks(self) -> dict[str, Any]:
        public = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256"}
        return {"keys": [jwk | {"n": _int_b64(public.n), "e": _int_b64(public.e)}]}

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.token_issuer or self.issuer,
            "sub": hashlib.sha256((grant.email or "").encode()).hexdigest()[:20],
            "aud": self.audience or CLIENT_ID,
            "iat": now - 5,
            "exp": now + self.lifetime_seconds,
            "nonce": self.nonce or grant.nonce,
        }
        if grant.email is not None:
            claims |= {"email": grant.email, "email_verified": self.email_verified}
        header = {"alg": "none" if self.unsigned else "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        if self.unsigned:
            return f"{signing_input}."
        key = self.signing_key or self.key
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    # The endpoints.

    async def discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "none"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def keys(self, _request: Request) -> Response:
        return JSONResponse(self.jwks())

    async def authorize(self, request: Request) -> Response:
        """Approves at once. A request Dagy should never send (another client, an unregistered
        redirect URI, no S256 challenge, no openid scope) is a 400 page, as providers answer."""
        q = request.query_params
        if (
            q.get("client_id") != CLIENT_ID
            or q.get("redirect_uri") != self.redirect_uri
            or q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
            or "openid" not in (q.get("scope") or "").split()
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        answer: dict[str, str] = {"state": q.get("state") or ""}
        if self.authorize_error:
            answer |= {"error": self.authorize_error, "error_description": "The user said no."}
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(self.redirect_uri, q["code_challenge"], q.get("nonce"), self.email)
            answer["code"] = code
        return RedirectResponse(f"{self.redirect_uri}?{urlencode(answer)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}  # form-urlencoded
        if not self._client_authenticated(request, form.get("client_id"), form.get("client_secret")):
            return self._refuse("client", {"error": "invalid_client"}, 401)
        grant = self.grants.pop(str(form.get("code")), None)  # each code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._refuse("code", {"error": "invalid_grant"})
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("redirect_uri", {"error": "invalid_grant"})
        verifier = str(form.get("code_verifier") or "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.code_challenge:
            return self._refuse("pkce", {"error": "invalid_grant", "error_description": "PKCE check failed"})
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            },
            headers={"cache-control": "no-store"},
        )

    def _client_authenticated(self, request: Request, form_id: Any, form_secret: Any) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = str(form_id or ""), str(form_secret or "")
        return client_id == CLIENT_ID and hmac.compare_digest(secret, CLIENT_SECRET)

    def _refuse(self, reason: str, body: dict[str, str], status: int = 400) -> Response:
        self.refusals.append(reason)
        return JSONResponse(body, status_code=status)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.keys),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


@contextmanager
def running_provider(redirect_uri: str) -> Iterator[OidcProvider]:
    """The provider, listening on a loopback port of its own until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    provider = OidcProvider(redirect_uri=redirect_uri)
    provider.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(provider.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test OIDC provider did not start")
        time.sleep(0.01)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
