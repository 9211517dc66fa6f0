"""Single sign-on (`DAGY_AUTH_MODE=oidc`): the whole authorization-code flow, Dagy through the ASGI
client and a real OpenID Connect provider over loopback HTTP (tests/oidc_provider.py).

Each test drives what a browser does: `GET /v1/auth/oidc/login` (Dagy sets its sign-in cookie and
redirects), the provider's authorization endpoint (it approves and redirects back with a code),
then Dagy's callback, which answers with a redirect to the web app carrying the session token in
the URL fragment, or with the reference's error body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from dagy.server.app import create_app
from dagy.server.domains.auth import repository as users
from dagy.server.domains.auth.oidc_state import STATE_TTL_SECONDS, seal, unseal
from dagy.server.domains.orgs import service as orgs
from dagy.server.domains.orgs.schemas import OrgCreate
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.settings import AuthMode, OidcSettings, Settings
from tests.conftest import SUPERADMIN
from tests.factories import unique, unique_email
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, running_provider
from tests.ports import free_port

CALLBACK = "http://testserver/v1/auth/oidc/callback"  # the TestClient's origin
COOKIE = "dagy_oidc"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider(CALLBACK) as running:
        yield running


@pytest.fixture
def idp(provider: OidcProvider) -> Iterator[OidcProvider]:
    """The provider with its knobs at their defaults for this test."""
    provider.reset()
    yield provider
    provider.reset()


@pytest.fixture
def oidc_settings(idp: OidcProvider) -> dict[str, Any]:
    return {
        "auth_mode": AuthMode.OIDC,
        "oidc": OidcSettings(
            issuer=idp.issuer,
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            redirect_url=CALLBACK,
        ),
    }


# The sign-in protocol; the database only finds a member by email, which tests/server/test_auth.py
# covers on both.
pytestmark = [pytest.mark.settings("oidc_settings"), pytest.mark.postgres_only]


def _member(app: FastAPI) -> tuple[str, str]:
    """A fresh user owning a fresh org, made through the services (no login: oidc mode refuses it)."""
    email = unique_email("sso")
    with app.state.db.transaction(write=True) as session:
        user = users.add_user(session, email)
        principal = Principal(
            kind=PrincipalKind.SESSION,
            user_id=user.id,
            email=email,
            org_id=None,
            org_name=None,
            role=None,
            permissions=frozenset(),
        )
        org = orgs.create_org(
            session,
            actor=Actor(principal=principal),
            data=OrgCreate(org_name=unique("org")),
            settings=app.state.settings,
        )
    return email, org.org_id


@dataclass
class Flow:
    """One sign-in as a browser makes it, stopped where the provider sends the browser back."""

    cookie: str
    authorize_url: str
    callback_url: str  # the provider's redirect: the callback with its code and state (or error)

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.callback_url).query).items()}


def _start(client: TestClient, return_to: str | None = None) -> Flow:
    params = {"return_to": return_to} if return_to else {}
    started = client.get("/v1/auth/oidc/login", params=params, follow_redirects=False)
    assert started.status_code == 302, started.text
    set_cookie = started.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie and "Path=/v1/auth/oidc" in set_cookie
    cookie = started.cookies[COOKIE]
    approved = httpx.get(started.headers["location"], follow_redirects=False)  # the provider, over HTTP
    assert approved.status_code == 302, approved.text
    return Flow(
        cookie=cookie, authorize_url=started.headers["location"], callback_url=approved.headers["location"]
    )


def _callback(client: TestClient, flow: Flow, **override: str | None) -> httpx.Response:
    """The browser's return to Dagy, with the flow's cookie; `override` changes query parameters
    (None drops one)."""
    query = {k: v for k, v in (flow.query() | override).items() if v is not None}
    client.cookies.clear()
    client.cookies.set(COOKIE, flow.cookie)
    return client.get("/v1/auth/oidc/callback", params=query, follow_redirects=False)


def _token_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/login")
    return {k: v[0] for k, v in parse_qs(location.fragment).items()}


def _refused(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert set(body) == {"error", "message", "details"}
    # The sign-in is over: its cookie is cleared whatever went wrong.
    assert f'{COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    return body


def test_sign_in_opens_a_session_for_the_member_with_that_email(
    app: FastAPI, client: TestClient, idp: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    email, org_id = _member(app)
    idp.email = email.upper()  # matched case-insensitively
    caplog.set_level(logging.DEBUG)
    flow = _start(client, return_to="/runs?status=failed")
    authorize = parse_qs(urlsplit(flow.authorize_url).query)
    assert authorize["code_challenge_method"] == ["S256"] and authorize["nonce"][0]
    assert authorize["redirect_uri"] == [CALLBACK] and authorize["scope"] == ["openid email profile"]

    answer = _callback(client, flow)
    handed = _token_of(answer)
    assert handed["return_to"] == "/runs?status=failed" and handed["expires_at"]
    assert answer.headers["cache-control"] == "no-store"
    assert "Max-Age=0" in answer.headers["set-cookie"]
    headers = {"Authorization": f"Bearer {handed['access_token']}"}
    assert client.get("/v1/me", headers=headers).json() == {
        "user_email": email,
        "org_id": org_id,
        "role": "owner",
    }
    # The code was redeemed with the right verifier, and nothing secret reached the logs.
    assert idp.refusals == [] and idp.grants == {}
    secrets = (flow.query()["code"], handed["access_token"])
    assert [line for line in _server_log_lines(caplog) if any(s in line for s in secrets)] == []


def _server_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What Dagy logged, its outgoing calls to the provider included: every record but those of
    the test's own HTTP clients (the browser's `httpx`, the ASGI client's request lines)."""
    return [
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore.")) or record.name == "httpx2"
        if not record.getMessage().startswith("HTTP Request: GET http://testserver/")
    ]


def test_a_super_admin_signs_in_without_an_org(app: FastAPI, client: TestClient, idp: OidcProvider) -> None:
    idp.email = SUPERADMIN
    handed = _token_of(_callback(client, _start(client)))
    assert handed["return_to"] == "/dashboard"
    me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {handed['access_token']}"}).json()
    assert me["super_admin"] is True and me["user_email"] == SUPERADMIN


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"state": "not-the-state-this-browser-started"}, "does not belong"),
        ({"state": None}, "does not belong"),
    ],
)
def test_a_wrong_or_missing_state_is_refused(
    app: FastAPI, client: TestClient, idp: OidcProvider, override: dict[str, str | None], reason: str
) -> None:
    idp.email, _ = _member(app)
    flow = _start(client)
    body = _refused(_callback(client, flow, **override), 400, "oidc_state_invalid")
    assert reason in body["message"]
    assert len(idp.grants) == 1  # the code was never sent to the provider


def test_a_callback_without_the_cookie_or_with_a_forged_one_is_refused(
    app: FastAPI, client: TestClient, idp: OidcProvider
) -> None:
    idp.email, _ = _member(app)
    flow = _start(client)
    client.cookies.clear()
    bare = client.get("/v1/auth/oidc/callback", params=flow.query(), follow_redirects=False)
    assert "No sign-in is in progress" in _refused(bare, 400, "oidc_state_invalid")["message"]
    forged = Flow(cookie=flow.cookie[:-4] + "AAAA", authorize_url="", callback_url=flow.callback_url)
    assert (
        "not one this server made"
        in _refused(_callback(client, forged), 400, "oidc_state_invalid")["message"]
    )


def test_a_replayed_callback_is_refused(app: FastAPI, client: TestClient, idp: OidcProvider) -> None:
    idp.email, _ = _member(app)
    flow = _start(client)
    _token_of(_callback(client, flow))
    replay = _callback(client, flow)  # the same URL and the same cookie, once more
    assert "already finished" in _refused(replay, 400, "oidc_state_invalid")["message"]


def test_a_sign_in_older_than_ten_minutes_has_expired(
    app: FastAPI, settings: Settings, client: TestClient, idp: OidcProvider
) -> None:
    idp.email, _ = _member(app)
    flow = _start(client)
    login = unseal(settings, flow.cookie.strip('"'), state=flow.query()["state"])  # as sent: quoted
    flow.cookie = seal(settings, login, now=time.time() - STATE_TTL_SECONDS - 1)  # started 10 min ago
    assert "expired" in _refused(_callback(client, flow), 400, "oidc_state_invalid")["message"]
    assert len(idp.grants) == 1  # the code was never sent to the provider


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"nonce": "a-nonce-of-another-sign-in"}, "nonce"),
        ({"audience": "another-client"}, "aud"),
        ({"lifetime_seconds": -3600}, "expired"),
        ({"token_issuer": "https://another-issuer.example"}, "iss"),
        ({"signing_key": rsa.generate_private_key(65537, 2048)}, "signature"),  # not the JWKS's key
        ({"unsigned": True}, "algorithm"),  # `alg: none`, though discovery lists it
    ],
)
def test_an_id_token_that_does_not_hold_up_is_refused(
    app: FastAPI, client: TestClient, idp: OidcProvider, knobs: dict[str, Any], problem: str
) -> None:
    idp.email, _ = _member(app)
    for knob, value in knobs.items():
        setattr(idp, knob, value)
    body = _refused(_callback(client, _start(client)), 403, "oidc_id_token_invalid")
    assert problem in body["message"].lower(), body["message"]


def test_an_unverified_email_is_refused(app: FastAPI, client: TestClient, idp: OidcProvider) -> None:
    idp.email, _ = _member(app)
    idp.email_verified = False
    body = _refused(_callback(client, _start(client)), 403, "oidc_email_not_verified")
    assert idp.email in body["message"]


def test_an_id_token_without_an_email_is_refused(client: TestClient, idp: OidcProvider) -> None:
    idp.email = None
    _refused(_callback(client, _start(client)), 403, "oidc_email_missing")


def test_an_email_no_member_has_is_refused(client: TestClient, idp: OidcProvider) -> None:
    idp.email = unique_email("stranger")
    body = _refused(_callback(client, _start(client)), 403, "oidc_unknown_user")
    assert idp.email in body["message"]


def test_an_error_from_the_provider_is_refused(app: FastAPI, client: TestClient, idp: OidcProvider) -> None:
    idp.email, _ = _member(app)
    idp.authorize_error = "access_denied"
    body = _refused(_callback(client, _start(client)), 400, "oidc_provider_error")
    assert "access_denied" in body["message"] and "The user said no." in body["message"]
    assert body["details"] == {"error": "access_denied"}


def test_a_code_injected_into_another_sign_in_fails_the_providers_pkce_check(
    app: FastAPI, client: TestClient, idp: OidcProvider
) -> None:
    """An attacker's code (bound to their code challenge) pasted into a victim's sign-in: Dagy
    sends the victim's verifier, which the provider refuses."""
    idp.email, _ = _member(app)
    attackers = _start(client)
    victims = _start(client)
    injected = _callback(client, victims, code=attackers.query()["code"])
    body = _refused(injected, 400, "oidc_provider_error")
    assert "invalid_grant" in body["message"]
    assert idp.refusals == ["pkce"]


def test_password_login_and_invitations_are_refused_in_oidc_mode(client: TestClient) -> None:
    login = client.post("/v1/auth/login", json={"email": SUPERADMIN})
    assert login.status_code == 403
    assert login.json()["error"] == "sso_required" and "/v1/auth/oidc/login" in login.json()["message"]
    accept = client.post(
        "/v1/auth/invitations/accept",
        json={"invitation_token": "x" * 32, "password": "a long enough password"},
    )
    assert accept.status_code == 403 and accept.json()["error"] == "sso_required"


@pytest.mark.parametrize(
    "return_to", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "runs", "/a\nb"]
)
def test_return_to_must_be_a_path_on_this_site(client: TestClient, return_to: str) -> None:
    answer = client.get("/v1/auth/oidc/login", params={"return_to": return_to}, follow_redirects=False)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_input" and "return_to" in answer.json()["details"]


def test_an_unreachable_provider_is_a_503_not_a_500(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = settings.model_copy(
        update={"oidc": OidcSettings(issuer=f"http://127.0.0.1:{free_port()}", client_id=CLIENT_ID)}
    )
    with TestClient(create_app(nowhere, migrate=False)) as client:
        answer = client.get("/v1/auth/oidc/login", follow_redirects=False)
    assert answer.status_code == 503 and answer.json()["error"] == "oidc_provider_unavailable"
    assert "discovery document" in caplog.text


def test_a_discovery_document_of_another_issuer_is_refused(settings: Settings, idp: OidcProvider) -> None:
    other = settings.model_copy(update={"oidc": OidcSettings(issuer=idp.issuer + "/", client_id=CLIENT_ID)})
    with TestClient(create_app(other, migrate=False)) as client:
        answer = client.get("/v1/auth/oidc/login", follow_redirects=False)
    assert answer.status_code == 503 and "not DAGY_OIDC__ISSUER" in answer.json()["message"]


@pytest.mark.settings(auth_mode="email")
def test_the_sso_routes_are_404_in_other_modes(client: TestClient) -> None:
    assert client.get("/v1/auth/oidc/login", follow_redirects=False).status_code == 404
    assert client.get("/v1/auth/oidc/callback", follow_redirects=False).status_code == 404


def test_oidc_mode_without_a_provider_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="DAGY_OIDC__ISSUER and DAGY_OIDC__CLIENT_ID"):
        Settings(home=tmp_path, auth_mode="oidc", oidc={"issuer": "https://idp.example"})
    with pytest.raises(ValidationError, match="must include openid"):
        Settings(
            home=tmp_path, auth_mode="oidc", oidc={"issuer": "https://i", "client_id": "c", "scopes": "email"}
        )
    defaults = Settings(home=tmp_path, auth_mode="oidc", oidc={"issuer": "https://i", "client_id": "c"})
    assert defaults.oidc_redirect_url() == "http://127.0.0.1:8080/v1/auth/oidc/callback"
    assert defaults.oidc.scopes == "openid email profile" and defaults.oidc.allow_unverified_email is False


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAGY_AUTH_MODE", "oidc")
    monkeypatch.setenv("DAGY_OIDC__ISSUER", "https://sso.example.com/realms/dagy")
    monkeypatch.setenv("DAGY_OIDC__CLIENT_ID", "dagy")
    monkeypatch.setenv("DAGY_OIDC__CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("DAGY_PUBLIC_URL", "https://dagy.example.com/")
    read = Settings(home=tmp_path)
    assert read.oidc.client_secret is not None and read.oidc.client_secret.get_secret_value() == "s3cret"
    assert read.oidc_redirect_url() == "https://dagy.example.com/v1/auth/oidc/callback"
