"""Profiles: where `dagy login` keeps the server's URL and a credential, and how a command finds them.

One JSON file, `profiles.json`, in the config folder: `$DAGY_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/dagy`, else `~/.config/dagy`. The folder is created 0700 and the file written
0600, atomically. `DAGY_API_URL` and `DAGY_API_KEY` override what the profile holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dagy.cli.exits import CliError, NotLoggedIn

DEFAULT_PROFILE = "default"
DEFAULT_URL = "http://127.0.0.1:8080"
FILE_NAME = "profiles.json"

CredentialKind = Literal["session", "api_key"]


@dataclass
class Profile:
    """A server and a credential: a login session's access token (with its expiry) or an API key."""

    url: str
    token: str
    kind: CredentialKind
    email: str | None = None
    org_id: str | None = None
    expires_at: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        if self.kind != "session" or not self.expires_at:
            return False
        expiry = datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))
        return expiry <= (now or datetime.now(UTC))


@dataclass(frozen=True)
class Credentials:
    """What a command talks to the API with, and where it came from (for messages)."""

    url: str
    token: str
    org_id: str | None
    source: str


def config_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("DAGY_CONFIG_DIR"):
        return Path(environ["DAGY_CONFIG_DIR"]).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "dagy"


class ProfileStore:
    """The profiles file of one config folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"profiles": {}}
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {self.path}: {exc}") from exc
        return data if isinstance(data, dict) and isinstance(data.get("profiles"), dict) else {"profiles": {}}

    def get(self, name: str) -> Profile | None:
        raw = self._read()["profiles"].get(name)
        if not isinstance(raw, dict):
            return None
        known = {key: raw[key] for key in Profile.__dataclass_fields__ if key in raw}
        try:
            return Profile(**known)
        except TypeError:
            return None

    def names(self) -> list[str]:
        return sorted(self._read()["profiles"])

    def save(self, name: str, profile: Profile) -> None:
        data = self._read()
        data["profiles"][name] = asdict(profile)
        self._write(data)

    def remove(self, name: str) -> bool:
        data = self._read()
        found = data["profiles"].pop(name, None) is not None
        if found:
            self._write(data)
        return found

    def _write(self, data: dict[str, Any]) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        tmp = self.path.with_name(f".{FILE_NAME}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def resolve(store: ProfileStore, name: str, environ: Mapping[str, str]) -> Credentials:
    """The credentials a command uses: `DAGY_API_KEY`/`DAGY_API_URL` first, then the profile."""
    profile = store.get(name)
    url = environ.get("DAGY_API_URL") or (profile.url if profile else None) or DEFAULT_URL
    if environ.get("DAGY_API_KEY"):
        return Credentials(url, environ["DAGY_API_KEY"], profile.org_id if profile else None, "DAGY_API_KEY")
    if profile is None:
        raise NotLoggedIn(f"not logged in (profile {name!r}): run `dagy login` or set DAGY_API_KEY")
    if profile.expired():
        raise NotLoggedIn(
            f"the session of profile {name!r} ({profile.email}) expired at {profile.expires_at}: "
            "run `dagy login` again"
        )
    return Credentials(url, profile.token, profile.org_id, f"profile {name!r}")
