"""Single sign-on: Dagy as an OpenID Connect relying party (docs/authentication.md, "Single sign-on").

The authorization-code flow with PKCE (S256), a state and a nonce, through Authlib's client
(its httpx integration): discovery at `<issuer>/.well-known/openid-configuration`, the code
exchange at the token endpoint, and the ID token's validation (signature against the
provider's JWKS, refetched when a new key id appears; `iss`, `aud`, `exp`, `iat`, `nonce`,
`azp`). What Dagy adds: the issuer of the discovery document must be the configured one, ID
tokens must be signed with an asymmetric algorithm, and the email must be verified.

`OidcProvider.start` answers where to send the browser and what to remember; `finish` turns the
provider's answer into a verified email, or raises a `DagyError` the API renders as the
reference's error body. Nothing here logs a code, a token or a verifier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
from joserfc.errors import JoseError
from pydantic import TypeAdapter, ValidationError

from dagy.server.api.schemas import Email
from dagy.server.domains.auth.oidc_state import FinishedStates, LoginState, safe_return_to, seal, unseal
from dagy.server.domains.auth.schemas import OidcCallbackQuery
from dagy.server.errors import InvalidInput, PermissionDenied, ServiceUnavailable
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.auth.oidc")

DISCOVERY_PATH = "/.well-known/openid-configuration"
PROVIDER_TIMEOUT_SECONDS = 10.0
CLOCK_LEEWAY_SECONDS = 60
# Signature algorithms accepted on ID tokens: public-key ones, checked against the provider's JWKS.
_ASYMMETRIC = ("RS", "PS", "ES", "EdDSA")
_EMAIL = TypeAdapter(Email)


class ProviderError(InvalidInput):
    """The provider answered the sign-in with an error (the user cancelled, the client is not
    allowed) or refused to exchange the code (expired, used, PKCE verifier wrong)."""

    code = "oidc_provider_error"


class IdTokenInvalid(PermissionDenied):
    code = "oidc_id_token_invalid"


class EmailNotUsable(PermissionDenied):
    """The ID token carries no email, or one the provider does not vouch for."""

    code = "oidc_email_not_verified"


class ProviderUnavailable(ServiceUnavailable):
    code = "oidc_provider_unavailable"


@dataclass(frozen=True)
class Started:
    """A sign-in on its way: the provider's URL to send the browser to, and the sealed cookie."""

    url: str
    cookie: str


@dataclass(frozen=True)
class Identity:
    """What the provider vouched for, and where the web app goes next."""

    email: str
    return_to: str


class OidcProvider:
    """The configured provider. One per app: its discovery document and JWKS are fetched once
    and kept (the JWKS again when a token names a key id it lacks)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._issuer = settings.oidc.issuer
        self._client_id = settings.oidc.client_id
        self.redirect_url = settings.oidc_redirect_url()
        secret = settings.oidc.client_secret
        self._app = OAuth().register(
            "dagy",
            client_id=self._client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=self._issuer.rstrip("/") + DISCOVERY_PATH,
            client_kwargs={
                "scope": settings.oidc.scopes,
                "code_challenge_method": "S256",
                "timeout": PROVIDER_TIMEOUT_SECONDS,
            },
        )
        self._finished = FinishedStates()

    async def start(self, *, return_to: str | None) -> Started:
        """The authorization request (state, nonce and S256 code challenge made by Authlib)."""
        target = safe_return_to(return_to)
        await self._metadata()
        try:
            request = await self._app.create_authorization_url(self.redirect_url)
        except Exception as exc:  # the provider's metadata lacks what a request needs
            raise self._unavailable(
                "The sign-in request could not be built from the provider's metadata", exc
            ) from None
        login = LoginState(
            state=request["state"],
            nonce=request["nonce"],
            code_verifier=request["code_verifier"],
            return_to=target,
        )
        return Started(url=request["url"], cookie=seal(self._settings, login))

    async def finish(self, *, sealed: str | None, answer: OidcCallbackQuery) -> Identity:
        """The verified email of the provider's `answer` to the sign-in the cookie describes."""
        login = unseal(self._settings, sealed, state=answer.state)
        self._finished.finish(login.state)
        if answer.error:
            said = f": {answer.error_description[:300]}" if answer.error_description else ""
            raise ProviderError(
                f"The identity provider refused the sign-in ({answer.error[:100]}){said}",
                details={"error": answer.error[:100]},
            )
        if not answer.code:
            raise InvalidInput("The provider's answer has no code.", details={"code": "field required"})
        tokens = await self._exchange(answer.code, login.code_verifier)
        claims = await self._id_token_claims(tokens, login.nonce)
        return Identity(email=self._verified_email(claims), return_to=login.return_to)

    async def _metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once; its issuer must be the configured one."""
        try:
            metadata: dict[str, Any] = await self._app.load_server_metadata()
        except Exception as exc:  # unreachable, not JSON, an HTTP error: all the provider's
            raise self._unavailable(
                "The identity provider's discovery document could not be read", exc
            ) from None
        if metadata.get("issuer") != self._issuer:
            self._app.server_metadata.clear()  # asked again next time, once the setting is fixed
            raise ProviderUnavailable(
                f"The provider's discovery document names the issuer {str(metadata.get('issuer'))[:200]!r}, "
                f"not DAGY_OIDC__ISSUER {self._issuer!r}."
            )
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in algorithms if isinstance(alg, str) and alg.startswith(_ASYMMETRIC)
        ] or ["RS256"]
        return metadata

    async def _exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        await self._metadata()
        try:
            tokens: dict[str, Any] = await self._app.fetch_access_token(
                redirect_uri=self.redirect_url, code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            raise ProviderError(
                f"The identity provider refused to exchange the code ({str(exc.error)[:100]}); start again."
            ) from None
        except Exception as exc:
            raise self._unavailable(
                "The identity provider's token endpoint could not be reached", exc
            ) from None
        if not isinstance(tokens.get("id_token"), str):
            raise IdTokenInvalid("The identity provider sent no ID token; is `openid` among the scopes?")
        return tokens

    async def _id_token_claims(self, tokens: dict[str, Any], nonce: str) -> dict[str, Any]:
        options = {
            "iss": {"essential": True, "value": self._issuer},
            "aud": {"essential": True, "value": self._client_id},
            "exp": {"essential": True},
        }
        try:
            claims: dict[str, Any] = await self._app.parse_id_token(
                tokens, nonce, claims_options=options, leeway=CLOCK_LEEWAY_SECONDS
            )
        except (JoseError, ValueError, TypeError) as exc:
            raise IdTokenInvalid(f"The ID token is not valid: {_jose_problem(exc)}.") from None
        except Exception as exc:  # fetching the JWKS
            raise self._unavailable("The identity provider's signing keys could not be read", exc) from None
        return claims

    def _verified_email(self, claims: dict[str, Any]) -> str:
        raw = claims.get("email")
        if not isinstance(raw, str) or not raw:
            raise EmailNotUsable(
                "The ID token carries no email claim; ask for the `email` scope (DAGY_OIDC__SCOPES) "
                "or map the email into the ID token at the provider.",
                code="oidc_email_missing",
            )
        try:
            email = _EMAIL.validate_python(raw)
        except ValidationError:
            raise EmailNotUsable(
                "The ID token's email is not a valid address.", code="oidc_email_missing"
            ) from None
        verified = claims.get("email_verified")
        if not (verified is True or verified == "true" or self._settings.oidc.allow_unverified_email):
            raise EmailNotUsable(f"The identity provider has not verified the email {email}.")
        return email

    def _unavailable(self, what: str, exc: Exception) -> ProviderUnavailable:
        """A failure on the provider's side: logged with its kind only (a message could quote a
        request), answered 503."""
        log.warning("OIDC sign-in: %s (issuer %s): %s", what, self._issuer, type(exc).__name__)
        return ProviderUnavailable(f"{what}; try again later.")


def _jose_problem(exc: Exception) -> str:
    """A short reason that quotes nothing of the token: JOSE's own description of the failure
    (the claim that failed, a bad signature, an unknown key), else the kind of failure."""
    if isinstance(exc, JoseError):
        return (exc.description or exc.error.replace("_", " ") or type(exc).__name__)[:200]
    return type(exc).__name__
