"""`dagy login`, `dagy logout`, `dagy whoami`: the stored profile every other command uses."""

from __future__ import annotations

from typing import Annotated

import typer

from dagy.cli import output
from dagy.cli.context import Api, anonymous, state
from dagy.cli.output import Format, OutputOption
from dagy.cli.profiles import DEFAULT_URL, Credentials, Profile


def login(
    url: Annotated[
        str | None,
        typer.Option(envvar="DAGY_API_URL", help=f"The server (default {DEFAULT_URL}, or the profile's)."),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Sign in as this user (POST /v1/auth/login).")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Store an API key instead (dagy_sk_...); '-' reads it from stdin.",
            show_default=False,
        ),
    ] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password", help="Ask for a password (servers in password mode); DAGY_PASSWORD is read too."
        ),
    ] = False,
    org: Annotated[
        str | None, typer.Option(help="Act in this org (X-Org-Id); default: your first org.")
    ] = None,
) -> None:
    """Sign in and store the credential in the profile (--profile, default "default").

    Examples:

      dagy login --email you@example.com

      dagy login --url https://dagy.example.com --email you@example.com --password

      echo "$KEY" | dagy --profile ci login --url https://dagy.example.com --api-key -
    """
    stored = state.store().get(state.profile)
    server = url or (stored.url if stored else None) or DEFAULT_URL
    if (email is None) == (api_key is None):
        raise typer.BadParameter("give exactly one of --email, --api-key")
    if api_key is not None:
        profile = _api_key_profile(server, _read_key(api_key), org)
    else:
        assert email is not None
        secret = state.environ.get("DAGY_PASSWORD") or (
            typer.prompt("Password", hide_input=True) if password else None
        )
        profile = _session_profile(server, email, secret, org)
    state.store().save(state.profile, profile)
    until = f", until {profile.expires_at}" if profile.expires_at else ""
    output.success(
        f"logged in to {server} as {profile.email or 'an API key'}{until} (profile {state.profile!r})"
    )


def _read_key(value: str) -> str:
    if value != "-":
        return value.strip()
    key = typer.get_text_stream("stdin").read().strip()
    if not key:
        raise typer.BadParameter("no API key on stdin", param_hint="--api-key")
    return key


def _session_profile(url: str, email: str, password: str | None, org: str | None) -> Profile:
    body = {"email": email} | ({"password": password} if password else {})
    with anonymous(url) as client:
        token = client.request("POST", "/auth/login", json=body)
    return Profile(
        url=url,
        token=token["access_token"],
        kind="session",
        email=email,
        org_id=org,
        expires_at=token.get("expires_at"),
    )


def _api_key_profile(url: str, key: str, org: str | None) -> Profile:
    with Api(Credentials(url, key, org, "--api-key")) as api:
        me = api.get("/me")
    return Profile(url=url, token=key, kind="api_key", email=me.get("user_email"), org_id=org)


def logout() -> None:
    """Revoke the profile's session on the server and forget it here.

    Example:

      dagy logout
    """
    store = state.store()
    profile = store.get(state.profile)
    if profile is None:
        output.note(f"profile {state.profile!r} is not logged in")
        return
    if profile.kind == "session" and not profile.expired():
        from dagy.client import ApiError

        try:
            with Api(Credentials(profile.url, profile.token, profile.org_id, "profile")) as api:
                api.call("POST", "/auth/logout")
        except ApiError as exc:
            if exc.status_code != 401:
                raise
    store.remove(state.profile)
    output.success(f"logged out (profile {state.profile!r})")


def whoami(output_format: OutputOption = Format.table) -> None:
    """Who the stored credential signs in as, and in which org.

    Example:

      dagy whoami -o json
    """
    from dagy.cli.context import connect

    with connect() as api:
        me = api.get("/users/me")
        source = api.credentials.source
        url = api.credentials.url
    if output_format is Format.json:
        output.print_json(me)
        return
    output.record({"server": url, "credential": source, **me})
