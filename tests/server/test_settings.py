"""Settings: environment variables, defaults derived from the host, generated keys, documentation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from dagy.server.domains.deployments.backends import BACKENDS
from dagy.server.domains.flows.schemas import EXECUTOR_PATTERN
from dagy.server.settings import BUILT_IN_EXECUTORS, WORKER_POOL_PATTERN, AuthMode, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_reads_dagy_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAGY_HOME", str(tmp_path))
    monkeypatch.setenv("DAGY_SUPERADMIN_EMAILS", " A@example.com, b@example.com ,")
    monkeypatch.setenv("DAGY_QUEUE__LEASE_SECONDS", "7.5")
    settings = Settings()
    assert settings.superadmin_emails == ["a@example.com", "b@example.com"]
    assert settings.queue.lease_seconds == 7.5
    assert settings.database_url == f"sqlite:///{tmp_path / 'dagy.db'}"


def test_worker_pools_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAGY_HOME", str(tmp_path))
    monkeypatch.setenv("DAGY_WORKER_POOLS", " gpu, eu-west,,gpu ")
    assert Settings().worker_pools == ["gpu", "eu-west"]
    assert Settings(home=tmp_path).worker_pools == ["gpu", "eu-west"]
    monkeypatch.delenv("DAGY_WORKER_POOLS")
    assert Settings().worker_pools == []


@pytest.mark.parametrize(
    "pools", ["local", "gpu,flow-executor", "GPU", "2gpu", "eu west", "x" * 65, ["gpu\n"]]
)
def test_a_worker_pool_no_executor_field_could_name_is_refused(
    pools: str | list[str], tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="worker_pools"):
        Settings(home=tmp_path, worker_pools=pools)


def test_worker_pool_names_are_executor_names() -> None:
    """A pool must be nameable wherever the API takes an executor, and not shadow a built-in one."""
    assert WORKER_POOL_PATTERN == EXECUTOR_PATTERN
    assert set(BUILT_IN_EXECUTORS) == {b.name for b in BACKENDS}


@pytest.mark.parametrize(
    ("host", "mode"),
    [
        ("127.0.0.1", AuthMode.EMAIL),
        ("::1", AuthMode.EMAIL),
        ("localhost", AuthMode.EMAIL),
        ("0.0.0.0", AuthMode.PASSWORD),
        ("10.1.2.3", AuthMode.PASSWORD),
        ("dagy.example.com", AuthMode.PASSWORD),
    ],
)
def test_auth_mode_defaults_to_password_off_loopback(host: str, mode: AuthMode, tmp_path: Path) -> None:
    assert Settings(home=tmp_path, host=host).auth_mode == mode
    assert Settings(home=tmp_path, host=host, auth_mode="email").auth_mode == AuthMode.EMAIL


def test_generated_keys_are_private_and_stable(tmp_path: Path) -> None:
    first = Settings(home=tmp_path / "home")
    first.ensure_home()
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = Settings(home=tmp_path / "home")
    second.ensure_home()
    assert first.secret_key is not None and second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()


def _env_names(model: type, prefix: str = "DAGY_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            names.extend(_env_names(annotation, f"{prefix}{name.upper()}__"))
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [name for name in _env_names(Settings) if f"`{name}`" not in text]
    assert missing == []
