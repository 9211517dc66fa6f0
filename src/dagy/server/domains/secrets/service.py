"""Secrets: create, read, update, delete, resolve at run time, and re-wrap data keys under a new KEK.

A value is plaintext only between the request body (a `SecretStr`) and `encrypt_value`, and between
`decrypt_value` and the `/value` response or the run that asked for it. It is never logged, never
put in an audit row's `changes`, and never in an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import DataKey, Secret
from dagy.server.domains.audit_logs.service import REDACTED_CHANGE, Action, record
from dagy.server.domains.secrets import repository as repo
from dagy.server.domains.secrets.crypto import (
    NONCE_BYTES,
    EncryptionKeyError,
    Keyring,
    decrypt_value,
    derive_kek,
    encrypt_value,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from dagy.server.domains.secrets.schemas import (
    MAX_VALUE_BYTES,
    SecretCreate,
    SecretCreated,
    SecretRead,
    SecretUpdate,
    SecretUpdated,
    SecretValueRead,
)
from dagy.server.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "secret"
NO_ENVIRONMENT = ""  # stored for a secret without an environment, so the unique key covers it


def keyring_of(settings: Settings) -> Keyring:
    """The KEKs this process holds: `secret_key` wraps, `previous_secret_keys` only unwrap."""
    if settings.secret_key is None:
        raise EncryptionKeyError(
            "No secret key is configured; set DAGY_SECRET_KEY or start with a DAGY_HOME."
        )
    return Keyring.from_keys(
        settings.secret_key.get_secret_value(), [k.get_secret_value() for k in settings.previous_secret_keys]
    )


def create_secret(session: Session, *, actor: Actor, data: SecretCreate, settings: Settings) -> SecretCreated:
    org_id = actor.org_id
    plaintext = _value_bytes(data.value)
    environment = data.environment or NO_ENVIRONMENT
    if repo.get_secret(session, org_id, data.secret_name, environment) is not None:
        raise Conflict(
            "Secret already exists.",
            details={"secret_name": "a secret of this name exists in this environment"},
        )
    data_key_row, data_key = _data_key_for_new_secret(session, keyring_of(settings), org_id)
    secret_id = new_id("secret")
    nonce, ciphertext = encrypt_value(data_key, plaintext, org_id=org_id, secret_id=secret_id)
    secret = Secret(
        id=secret_id,
        org_id=org_id,
        name=data.secret_name,
        environment=environment,
        data_key_id=data_key_row.id,
        nonce=nonce,
        ciphertext=ciphertext,
    )
    repo.add(session, secret)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type=RESOURCE,
        resource_id=secret.id,
        resource_name=secret.name,
        changes={"environment": [None, data.environment]} if data.environment else {},
    )
    return SecretCreated(
        secret_id=secret.id,
        secret_name=secret.name,
        environment=data.environment,
        created_at=secret.created_at,
    )


def list_secrets(
    connection: Connection, *, actor: Actor, environment: str | None, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """Metadata only. `environment=""` lists the secrets that have no environment.

    Read path (docs/adr/0007-list-read-path.md): the items are `SecretRead`'s fields as plain
    values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, environment=environment, to_item=_list_item)


def get_secret(session: Session, *, actor: Actor, name: str, environment: str | None) -> SecretRead:
    return _read(_select(session, actor.org_id, name, environment))


def read_secret_value(
    session: Session, *, actor: Actor, name: str, environment: str | None, settings: Settings
) -> SecretValueRead:
    """The decrypted value; every read leaves an audit row (action `read`)."""
    secret = _select(session, actor.org_id, name, environment)
    value = SecretStr(_decrypt(session, keyring_of(settings), secret))
    record(
        session,
        actor=actor,
        action=Action.READ,
        resource_type=RESOURCE,
        resource_id=secret.id,
        resource_name=secret.name,
        changes={},
    )
    return SecretValueRead(secret_name=secret.name, value=value)


def update_secret(
    session: Session,
    *,
    actor: Actor,
    name: str,
    environment: str | None,
    data: SecretUpdate,
    settings: Settings,
) -> SecretUpdated:
    """A new value under a fresh nonce; the audit row says only that the value changed."""
    plaintext = _value_bytes(data.value)
    secret = _select(session, actor.org_id, name, environment)
    data_key = _unwrap(session, keyring_of(settings), secret)
    secret.nonce, secret.ciphertext = encrypt_value(
        data_key, plaintext, org_id=secret.org_id, secret_id=secret.id
    )
    secret.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=secret.id,
        resource_name=secret.name,
        changes={"value": REDACTED_CHANGE},
    )
    return SecretUpdated(secret_id=secret.id, secret_name=secret.name, updated_at=secret.updated_at)


def delete_secret(session: Session, *, actor: Actor, name: str, environment: str | None) -> None:
    secret = _select(session, actor.org_id, name, environment)
    repo.delete(session, secret)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE,
        resource_id=secret.id,
        resource_name=secret.name,
        changes={"environment": [secret.environment, None]} if secret.environment else {},
    )


def resolve_secret_value(
    session: Session, *, org_id: str, name: str, environment: str | None, settings: Settings
) -> str:
    """A secret's plaintext for a run in `org_id`, chosen as the API chooses it. Raises `NotFound`.

    Writes no audit row: the caller (a run) records what it resolved, if anything.
    """
    return _decrypt(session, keyring_of(settings), _select(session, org_id, name, environment))


def missing_names(session: Session, *, org_id: str, names: Sequence[str]) -> list[str]:
    """Of `names`, those no secret of the org has, in any environment (in the order given)."""
    existing = repo.existing_names(session, org_id, set(names))
    return [name for name in names if name not in existing]


def seal_with_org_key(
    session: Session, *, org_id: str, row_id: str, plaintext: bytes, settings: Settings
) -> bytes:
    """Encrypt a field of another domain's row (a sensor's webhook token) under the org's data key,
    with the org and `row_id` as associated data so it decrypts on that row only: `nonce || sealed`."""
    _row, data_key = _data_key_for_new_secret(session, keyring_of(settings), org_id)
    nonce, sealed = encrypt_value(data_key, plaintext, org_id=org_id, secret_id=row_id)
    return nonce + sealed


def open_with_org_key(
    session: Session, *, org_id: str, row_id: str, sealed: bytes, settings: Settings
) -> bytes:
    """The plaintext `seal_with_org_key` sealed for `row_id`; `EncryptionKeyError` when it cannot be."""
    row = repo.get_data_key(session, org_id)
    if row is None:
        raise EncryptionKeyError(f"The data key of the org of {row_id} is missing.")
    data_key = _unwrap_row(keyring_of(settings), row)
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return decrypt_value(data_key, nonce, ciphertext, org_id=org_id, secret_id=row_id)


def rotate_key_encryption_key(
    session: Session, *, old: str | Sequence[str], new: str, batch_size: int = 500
) -> int:
    """Re-wrap one batch of data keys wrapped by `old` (a key, or several) under `new`.

    Secret ciphertexts are untouched: only the small wrapped data keys change, so servers that
    hold either KEK keep working. Returns how many were re-wrapped; the caller commits and calls
    again until it returns 0. Data keys wrapped by a KEK in neither `old` nor `new` are left alone
    (see `list_unrotated_data_keys`).
    """
    new_kek = derive_kek(new)
    old_keks = {k.kek_id: k for k in map(derive_kek, [old] if isinstance(old, str) else old)}
    old_keks.pop(new_kek.kek_id, None)
    if not old_keks:
        return 0
    rows = repo.lock_data_keys_wrapped_by(session, old_keks.keys(), limit=batch_size)
    now = utcnow()
    for row in rows:
        plain = unwrap_data_key(old_keks[row.kek_id], row.wrapped_key, org_id=row.org_id, data_key_id=row.id)
        row.wrapped_key = wrap_data_key(new_kek, plain, org_id=row.org_id, data_key_id=row.id)
        row.kek_id = new_kek.kek_id
        row.rotated_at = now
    session.flush()
    return len(rows)


def list_unrotated_data_keys(session: Session, *, new: str) -> dict[str, int]:
    """`{kek_id: count}` of data keys not (yet) wrapped by `new`: empty once a rotation is complete."""
    new_id_ = derive_kek(new).kek_id
    return {k: n for k, n in repo.count_data_keys_by_kek(session).items() if k != new_id_}


def _value_bytes(value: SecretStr) -> bytes:
    try:
        plaintext = value.get_secret_value().encode()
    except UnicodeEncodeError:
        raise InvalidInput("Invalid secret value.", details={"value": "must be valid Unicode text"}) from None
    if len(plaintext) > MAX_VALUE_BYTES:
        raise PayloadTooLarge(
            "Secret value is too large.", details={"value": f"at most {MAX_VALUE_BYTES} bytes of UTF-8"}
        )
    return plaintext


def _select(session: Session, org_id: str, name: str, environment: str | None) -> Secret:
    """The named secret in `environment`; without one, the secret with no environment, else the
    only environment that has this name. Several candidates: the caller must say which (400)."""
    if environment is not None:
        secret = repo.get_secret(session, org_id, name, environment)
    else:
        secret = repo.get_secret(session, org_id, name, NO_ENVIRONMENT)
        if secret is None:
            candidates = repo.list_named(session, org_id, name, limit=2)
            if len(candidates) > 1:
                raise InvalidInput(
                    f"Several environments have a secret named {name}; choose one with `environment`.",
                    details={"environment": "required: several environments have a secret of this name"},
                )
            secret = candidates[0] if candidates else None
    if secret is None:
        raise NotFound("Secret not found.", details={"secret_name": name})
    return secret


def _data_key_for_new_secret(session: Session, keyring: Keyring, org_id: str) -> tuple[DataKey, bytes]:
    """The org's data key, created and wrapped by the current KEK on the org's first secret."""
    row = repo.get_data_key(session, org_id)
    if row is None:
        plain = new_data_key()
        row = DataKey(id=new_id("dk"), org_id=org_id, kek_id=keyring.current.kek_id)
        row.wrapped_key = wrap_data_key(keyring.current, plain, org_id=org_id, data_key_id=row.id)
        stored = repo.add_data_key(session, row)
        if stored is row:
            return row, plain
        row = stored
    return row, _unwrap_row(keyring, row)


def _unwrap(session: Session, keyring: Keyring, secret: Secret) -> bytes:
    row = session.get(DataKey, secret.data_key_id)
    if row is None or row.org_id != secret.org_id:
        raise EncryptionKeyError(f"The data key of secret {secret.id} is missing.")
    return _unwrap_row(keyring, row)


def _unwrap_row(keyring: Keyring, row: DataKey) -> bytes:
    return unwrap_data_key(keyring.get(row.kek_id), row.wrapped_key, org_id=row.org_id, data_key_id=row.id)


def _decrypt(session: Session, keyring: Keyring, secret: Secret) -> str:
    data_key = _unwrap(session, keyring, secret)
    plain = decrypt_value(
        data_key, secret.nonce, secret.ciphertext, org_id=secret.org_id, secret_id=secret.id
    )
    return plain.decode()


def _environment_of(secret: Secret) -> str | None:
    return secret.environment or None


def _list_item(row: ListRow) -> dict[str, Any]:
    """A `SecretRead`'s fields from a list page's row (as `_read` gives them for a secret)."""
    secret_id, name, environment, created_at, updated_at = row
    return {
        "secret_id": secret_id,
        "secret_name": name,
        "environment": environment or None,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _read(secret: Secret) -> SecretRead:
    return SecretRead(
        secret_id=secret.id,
        secret_name=secret.name,
        environment=_environment_of(secret),
        created_at=secret.created_at,
        updated_at=secret.updated_at,
    )
