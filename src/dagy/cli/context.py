"""What every API command shares: the root options (`--profile`, `--debug`), the profile store, and
`connect()`, the API session built from the stored profile or the environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagy.cli.profiles import DEFAULT_PROFILE, Credentials, ProfileStore, config_dir, resolve

if TYPE_CHECKING:
    import httpx

    from dagy.client import Client


@dataclass
class State:
    """Set once by the root callback (main.py) from its options and the environment."""

    profile: str = DEFAULT_PROFILE
    debug: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def store(self) -> ProfileStore:
        return ProfileStore(config_dir(self.environ))

    def credentials(self) -> Credentials:
        return resolve(self.store(), self.profile, self.environ)


state = State()


class Api:
    """The API as one command sees it: `call()` for JSON (through `dagy.client.Client`), `raw()` for
    bodies that are bytes; the org chosen at login travels as `X-Org-Id`."""

    def __init__(self, credentials: Credentials, *, timeout: float = 30.0) -> None:
        from dagy.client import Client

        self.credentials = credentials
        self.client: Client = Client(credentials.url, credentials.token, timeout=timeout)
        self.base_url = self.client.base_url
        self.headers = {"X-Org-Id": credentials.org_id} if credentials.org_id else {}
        self._raw: httpx.Client | None = None

    def call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return self.client.request(method, path, json=json, params=params, headers=self.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def page(
        self, path: str, *, limit: int | None, next_token: str | None, every: bool, **params: Any
    ) -> dict[str, Any]:
        """One page of a list (`{"items", "next_token"}`), or with `every` all of them in one body."""
        body: dict[str, Any] = self.get(path, limit=limit, next_token=next_token, **params)
        if not every:
            return body
        items = list(body.get("items", []))
        while body.get("next_token"):
            body = self.get(path, limit=limit, next_token=body["next_token"], **params)
            items.extend(body.get("items", []))
        return {**body, "items": items, "next_token": None}

    def raw_client(self) -> httpx.Client:
        """An httpx client on the API's base URL with the credential (for byte bodies)."""
        import httpx

        from dagy import __version__

        if self._raw is None:
            self._raw = httpx.Client(
                base_url=self.base_url,
                headers={
                    "Authorization": f"Bearer {self.credentials.token}",
                    "User-Agent": f"dagy-cli/{__version__}",
                    **self.headers,
                },
                timeout=300.0,
            )
        return self._raw

    def close(self) -> None:
        self.client.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect() -> Api:
    """The API session of the current profile (or DAGY_API_URL/DAGY_API_KEY); NotLoggedIn if none."""
    return Api(state.credentials())


def anonymous(url: str) -> Client:
    """A client without a credential (login)."""
    from dagy.client import Client

    return Client(url)
