"""The artifact `dagy deploy` builds, and the profile store: no server needed."""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest

from dagy.cli.exits import ExitCode, NotLoggedIn
from dagy.cli.package import build
from dagy.cli.profiles import Profile, ProfileStore, resolve


def _project(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "flow.py").write_text("x = 1\n")
    (root / "pkg" / "mod.py").write_text("y = 2\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref\n")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "big.py").write_text("z\n")
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("o\n")
    (root / ".dagyignore").write_text("build/\n*.tmp\n!keep.tmp\n")
    (root / "a.tmp").write_text("t\n")
    (root / "keep.tmp").write_text("k\n")


def test_the_zip_is_deterministic_and_respects_the_ignore_files(tmp_path: Path) -> None:
    _project(tmp_path)
    first = build(tmp_path)
    assert [name for name, _ in first.files] == [".dagyignore", "flow.py", "keep.tmp", "pkg/mod.py"]
    later = datetime.now().timestamp() + 3600
    for path in tmp_path.rglob("*"):
        os.utime(path, (later, later))
    (tmp_path / "flow.py").chmod(0o755)
    second = build(tmp_path)
    assert second.data == first.data and second.code_hash == first.code_hash
    with zipfile.ZipFile(BytesIO(second.data)) as zf:
        infos = zf.infolist()
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}

    (tmp_path / "flow.py").write_text("x = 2\n")
    assert build(tmp_path).code_hash != first.code_hash


def test_an_expired_session_says_when_it_expired(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "cfg")
    expired = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    store.save(
        "default", Profile(url="http://x", token="t", kind="session", email="a@b.c", expires_at=expired)
    )
    with pytest.raises(NotLoggedIn) as caught:
        resolve(store, "default", {})
    assert caught.value.code is ExitCode.AUTH and expired in caught.value.message
    # DAGY_API_KEY replaces the stored credential; DAGY_API_URL the stored URL.
    credentials = resolve(store, "default", {"DAGY_API_KEY": "k", "DAGY_API_URL": "http://y"})
    assert (credentials.url, credentials.token) == ("http://y", "k")


def test_the_command_loads_neither_the_server_nor_httpx_for_help() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from dagy.cli.main import app; "
        "print(sorted(m for m in sys.modules if m.startswith(('httpx', 'dagy.server', 'dagy.client'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
