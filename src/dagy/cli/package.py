"""The artifact `dagy deploy` uploads: the project folder as a deterministic zip.

Entries are sorted by path, with a fixed timestamp (1980-01-01), fixed modes (0644) and one
compression level, so unchanged files give the same bytes and the same SHA-256 (`code_hash`).
`.gitignore` then `.dagyignore` at the project's root choose what is left out (gitignore syntax,
through `pathspec`); `.git`, `__pycache__`, `.venv` and compiled files always are.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

ALWAYS_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", ".hg", ".svn"})
ALWAYS_SKIPPED_SUFFIXES = (".pyc", ".pyo")
IGNORE_FILES = (".gitignore", ".dagyignore")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class Package:
    files: list[tuple[str, int]]  # (path in the zip, size on disk)
    data: bytes
    code_hash: str

    @property
    def size(self) -> int:
        return len(self.data)


def project_files(root: Path) -> list[Path]:
    """The files to package, relative to `root`, sorted by their POSIX path."""
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        ignore = root / name
        if ignore.is_file():
            lines.extend(ignore.read_text().splitlines())
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in ALWAYS_SKIPPED_DIRS
            and not spec.match_file(f"{(base / d).as_posix()}/")
            and not (Path(folder) / d).is_symlink()
        )
        for name in files:
            relative = base / name
            if name.endswith(ALWAYS_SKIPPED_SUFFIXES) or spec.match_file(relative.as_posix()):
                continue
            if (root / relative).is_file():
                found.append(relative)
    return sorted(found, key=lambda path: path.as_posix())


def build(root: Path) -> Package:
    """Zip `root`'s files deterministically and hash the bytes."""
    paths = project_files(root)
    buffer = io.BytesIO()
    listed: list[tuple[str, int]] = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for relative in paths:
            name = relative.as_posix()
            content = (root / relative).read_bytes()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is read as one
            info.external_attr = FILE_MODE << 16
            zf.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
            listed.append((name, len(content)))
    data = buffer.getvalue()
    return Package(files=listed, data=data, code_hash=hashlib.sha256(data).hexdigest())
