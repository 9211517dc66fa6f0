"""What single sign-on remembers between sending the browser to the provider and its return.

The state, nonce and PKCE code verifier of one sign-in travel in a cookie the server seals, so
any of the API's processes can finish a sign-in another one started and nothing is stored
server-side. Sealing is Fernet (AES-CBC and HMAC-SHA256) with a key derived from
`DAGY_SECRET_KEY`: the browser can neither read the verifier nor forge or alter the cookie, and
Fernet's timestamp ends it after `STATE_TTL_SECONDS`. The cookie is HttpOnly, SameSite=Lax (the
provider's redirect back is a top-level GET, which Lax lets through) and scoped to the
`/v1/auth/oidc` routes.

A sign-in is single use: the callback clears the cookie whatever its outcome, each process
remembers the states it finished until they expire, and the provider accepts each
authorization code once (which covers a replay to another process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from dagy.server.errors import InvalidInput
from dagy.server.settings import Settings

COOKIE_NAME = "dagy_oidc"
COOKIE_PATH = "/v1/auth/oidc"
STATE_TTL_SECONDS = 600
DEFAULT_RETURN_TO = "/dashboard"
MAX_RETURN_TO = 1024
_KEY_CONTEXT = b"dagy oidc login state v1"


@dataclass(frozen=True)
class LoginState:
    """One sign-in in flight: what the callback checks the provider's answer against."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str


class StateInvalid(InvalidInput):
    """The callback cannot be tied to a sign-in this browser started (missing, forged, expired,
    mismatched or already used): start again."""

    code = "oidc_state_invalid"


def _fernet(settings: Settings) -> Fernet:
    assert settings.secret_key is not None  # filled from DAGY_HOME on start
    key = hmac.new(settings.secret_key.get_secret_value().encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, login: LoginState, *, now: float | None = None) -> str:
    """The cookie value carrying `login`, stamped with the time the sign-in started (`now`)."""
    payload = json.dumps(asdict(login)).encode()
    return _fernet(settings).encrypt_at_time(payload, int(time.time() if now is None else now)).decode()


def unseal(settings: Settings, sealed: str | None, *, state: str | None) -> LoginState:
    """The sign-in the cookie carries, provided it is intact, young enough and the one whose
    `state` the provider sent back."""
    if not sealed:
        raise StateInvalid("No sign-in is in progress in this browser (or it was finished); start again.")
    fernet = _fernet(settings)
    try:
        payload = fernet.decrypt(sealed.encode(), ttl=STATE_TTL_SECONDS)
    except InvalidToken:
        raise StateInvalid(_why_refused(fernet, sealed)) from None
    login = LoginState(**json.loads(payload))
    if not state or not hmac.compare_digest(state.encode(), login.state.encode()):
        raise StateInvalid(
            "The provider's answer does not belong to the sign-in this browser started; start again."
        )
    return login


def _why_refused(fernet: Fernet, sealed: str) -> str:
    try:
        fernet.extract_timestamp(sealed.encode())
    except InvalidToken:
        return "The sign-in cookie is not one this server made; start again."
    return f"The sign-in took longer than {STATE_TTL_SECONDS // 60} minutes and expired; start again."


def safe_return_to(value: str | None) -> str:
    """Where the web app goes after sign-in: a path on this site, never another site's URL."""
    if not value:
        return DEFAULT_RETURN_TO
    parts = urlsplit(value)
    if (
        len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        raise InvalidInput(
            "return_to must be a path on this site, such as /runs.",
            details={"return_to": f"a path starting with a single /, at most {MAX_RETURN_TO} characters"},
        )
    return value


class FinishedStates:
    """The states of sign-ins this process finished, until they would have expired anyway: a
    replayed callback is refused here before the provider is asked."""

    def __init__(self, ttl_seconds: float = STATE_TTL_SECONDS, max_entries: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def finish(self, state: str) -> None:
        """Mark `state` finished; a second call with it raises `StateInvalid`."""
        key = hashlib.sha256(state.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            if self._until.get(key, 0.0) > now:
                raise StateInvalid("This sign-in was already finished; start again.")
            if len(self._until) >= self._max:
                self._until = {k: t for k, t in self._until.items() if t > now}
            self._until[key] = now + self._ttl
