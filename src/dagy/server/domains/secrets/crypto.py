"""Envelope encryption of secret values (DESIGN.md §5).

Three layers, so that changing the installation's key never touches a secret's ciphertext:

- the key-encryption key (KEK) is derived with HKDF-SHA256 from `DAGY_SECRET_KEY`; it never
  reaches the database, only its fingerprint (`kek_id`) does, so a row says which KEK wrapped it;
- each org has one random AES-256 data key, stored only wrapped (AES-GCM) under a KEK, with the
  org id and data key id as associated data so a wrapped key cannot be moved to another org;
- each secret value is AES-GCM encrypted under its org's data key with a fresh 96-bit nonce and
  the org id and secret id as associated data, so ciphertexts cannot be swapped between rows.

Every failure to decrypt raises `EncryptionKeyError` with a message that names the cause (a KEK
this server lacks, or bytes that do not authenticate) and never any key or value material.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dagy.server.errors import DagyError

NONCE_BYTES = 12  # 96 bits, the size AES-GCM is designed for
DATA_KEY_BYTES = 32  # AES-256
_HKDF_SALT = b"dagy.secrets.v1"
_KEK_INFO = b"dagy key-encryption key v1"
_KEK_ID_INFO = b"dagy key-encryption key fingerprint v1"


class EncryptionKeyError(DagyError):
    """The server cannot decrypt with the keys it was given: a configuration fault, not bad input."""

    status_code = 500
    code = "encryption_key_error"


@dataclass(frozen=True)
class Kek:
    """A key-encryption key. `kek_id` is safe to store and show; `key` never leaves the process."""

    kek_id: str
    key: bytes = field(repr=False)


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(material)


def derive_kek(secret_key: str) -> Kek:
    """The KEK for `secret_key`. The fingerprint comes from a separate HKDF output, so it says
    which key wrapped a row without revealing anything about the key itself."""
    if not secret_key:
        raise EncryptionKeyError("The secret key is empty; set DAGY_SECRET_KEY.")
    material = secret_key.encode()
    return Kek(kek_id=_hkdf(material, _KEK_ID_INFO)[:8].hex(), key=_hkdf(material, _KEK_INFO))


class Keyring:
    """The current KEK (wraps new data keys) and older ones still accepted for unwrapping."""

    def __init__(self, current: Kek, previous: Iterable[Kek] = ()) -> None:
        self.current = current
        self._by_id = {k.kek_id: k for k in previous} | {current.kek_id: current}

    @classmethod
    def from_keys(cls, current: str, previous: Iterable[str] = ()) -> Keyring:
        return cls(derive_kek(current), [derive_kek(k) for k in previous])

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.kek_id!r}, known={sorted(self._by_id)!r})"

    @property
    def kek_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def get(self, kek_id: str) -> Kek:
        kek = self._by_id.get(kek_id)
        if kek is None:
            raise EncryptionKeyError(
                f"This server cannot decrypt secrets wrapped by key-encryption key {kek_id}: that key is "
                "neither DAGY_SECRET_KEY nor one of DAGY_PREVIOUS_SECRET_KEYS.",
                details={"kek_id": kek_id},
            )
        return kek


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise EncryptionKeyError(
            f"The {what} does not authenticate: it was altered, moved to another row, or encrypted "
            "with a different key."
        ) from exc


def _data_key_aad(org_id: str, data_key_id: str) -> bytes:
    return f"dagy.data_key.v1|{org_id}|{data_key_id}".encode()


def _value_aad(org_id: str, secret_id: str) -> bytes:
    return f"dagy.secret.v1|{org_id}|{secret_id}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)


def wrap_data_key(kek: Kek, data_key: bytes, *, org_id: str, data_key_id: str) -> bytes:
    """`nonce || ciphertext+tag` of `data_key` under `kek`."""
    nonce, sealed = _seal(kek.key, data_key, _data_key_aad(org_id, data_key_id))
    return nonce + sealed


def unwrap_data_key(kek: Kek, wrapped: bytes, *, org_id: str, data_key_id: str) -> bytes:
    nonce, sealed = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    return _open(kek.key, nonce, sealed, _data_key_aad(org_id, data_key_id), f"data key {data_key_id}")


def encrypt_value(data_key: bytes, plaintext: bytes, *, org_id: str, secret_id: str) -> tuple[bytes, bytes]:
    """`(nonce, ciphertext+tag)`; a fresh nonce every call, including every update."""
    return _seal(data_key, plaintext, _value_aad(org_id, secret_id))


def decrypt_value(data_key: bytes, nonce: bytes, ciphertext: bytes, *, org_id: str, secret_id: str) -> bytes:
    return _open(data_key, nonce, ciphertext, _value_aad(org_id, secret_id), f"secret {secret_id}")
