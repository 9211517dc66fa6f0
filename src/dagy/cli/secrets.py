"""`dagy secrets rotate-key`: re-wrap every org's data key under a new key-encryption key.

The rotation itself lives in the secrets service; this command finds the keys, runs it batch by
batch (one transaction each) and puts the new key where the old one came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Secrets and their encryption keys.", no_args_is_help=True)

MIN_KEY_CHARS = 32


@app.command("rotate-key")
def rotate_key(
    new_key_file: Annotated[
        Path | None,
        typer.Option("--new-key-file", dir_okay=False, help="File holding the new key (one line)."),
    ] = None,
    new_key: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            envvar="DAGY_NEW_SECRET_KEY",
            show_default=False,
            help="The new key itself (prefer --new-key-file: command lines are visible to others).",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Data keys re-wrapped per transaction.")
    ] = 500,
) -> None:
    """Re-wrap every data key under a new DAGY_SECRET_KEY; secret values are not re-encrypted.

    Safe to run again: keys already under the new key are skipped. See docs/secrets.md.
    """
    from dagy.server.settings import Settings

    new = _new_key(new_key_file, new_key)
    settings = Settings()
    key_file = settings.home / "secret.key" if settings.secret_key is None else None
    settings.ensure_home()
    assert settings.secret_key is not None  # ensure_home fills it
    current = settings.secret_key.get_secret_value()
    old = [current, *(k.get_secret_value() for k in settings.previous_secret_keys)]
    left = _rotate_database(settings.database_url, old=old, new=new, batch_size=batch_size)
    _install_new_key(key_file, current=current, new=new)
    if left:
        listed = ", ".join(f"{kek_id} ({count})" for kek_id, count in sorted(left.items()))
        typer.echo(
            f"error: data keys wrapped by key-encryption keys this command was not given remain: {listed}. "
            "Add the keys that wrapped them to DAGY_PREVIOUS_SECRET_KEYS and run again.",
            err=True,
        )
        raise typer.Exit(1)


def _new_key(path: Path | None, value: str | None) -> str:
    if (path is None) == (value is None):
        raise typer.BadParameter("give exactly one of --new-key-file, --new-key (or DAGY_NEW_SECRET_KEY)")
    if path is not None:
        try:
            value = path.read_text()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--new-key-file"
            ) from exc
    key = (value or "").strip()
    if len(key) < MIN_KEY_CHARS or "," in key:
        raise typer.BadParameter(
            f"the new key must have at least {MIN_KEY_CHARS} characters and no comma "
            '(for example: python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    return key


def _rotate_database(database_url: str, *, old: list[str], new: str, batch_size: int) -> dict[str, int]:
    """Re-wrap in batches, one transaction each, so a large installation never holds one long lock.

    Returns the data keys still not under `new` (`{kek_id: count}`), empty when the rotation is complete.
    """
    from dagy.server.db.engine import create_database
    from dagy.server.domains.secrets import service
    from dagy.server.domains.secrets.crypto import derive_kek
    from dagy.server.errors import DagyError

    db = create_database(database_url)
    total = 0
    try:
        while True:
            with db.transaction(write=True) as session:
                done = service.rotate_key_encryption_key(session, old=old, new=new, batch_size=batch_size)
            total += done
            if done < batch_size:
                break
        with db.transaction(write=False) as session:
            left = service.list_unrotated_data_keys(session, new=new)
    except DagyError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        typer.echo(
            f"{total} data keys were re-wrapped before the error and stay under the new key; "
            "run the same command again to finish.",
            err=True,
        )
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"re-wrapped {total} data keys under key-encryption key {derive_kek(new).kek_id}")
    return left


def _install_new_key(key_file: Path | None, *, current: str, new: str) -> None:
    """Write the new key where the old one came from, or tell the operator where it must go."""
    from dagy.server.domains.secrets.crypto import derive_kek

    if key_file is None:
        typer.echo(
            "DAGY_SECRET_KEY did not come from DAGY_HOME/secret.key: set DAGY_SECRET_KEY to the new key "
            "on every server and restart them, keeping the old key in DAGY_PREVIOUS_SECRET_KEYS until "
            "all of them run with the new one (docs/secrets.md)."
        )
        return
    if new == current:
        return
    backup = key_file.with_name(f"secret.key.{derive_kek(current).kek_id}.old")
    _write_private(backup, current)
    _write_private(key_file, new)
    typer.echo(
        f"wrote the new key to {key_file} (the old one is kept in {backup} for restoring older "
        "database backups); restart `dagy server` to use it."
    )


def _write_private(path: Path, value: str) -> None:
    """Owner-only file, replaced atomically so a crash never leaves half a key behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
