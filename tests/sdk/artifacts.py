"""Code-flow artifacts for tests: zips written from {path: source} maps."""

from __future__ import annotations

import io
import textwrap
import zipfile
from pathlib import Path

ETL_MODULE = """
from dagy import flow, get_run_logger, task

ATTEMPTS = {"load": 0}


@task
def extract(day: str) -> list[dict]:
    get_run_logger().info("extracting %s", day)
    return [{"sku": "A", "qty": 2, "price": 3.5}, {"sku": "B", "qty": 1, "price": 10.0}]


@task
def price(row: dict) -> float:
    return row["qty"] * row["price"]


@task(retries=1)
def load(total: float) -> dict:
    ATTEMPTS["load"] += 1
    if ATTEMPTS["load"] == 1:
        raise ConnectionError("warehouse busy")
    return {"total": total}


@task
def explode(total: float) -> None:
    raise ValueError(f"refusing {total}")


@flow(name="etl")
def main(day: str, fail: bool = False) -> dict:
    rows = extract(day)
    total = sum(f.result() for f in price.map(rows))
    if fail:
        explode(total)
    get_run_logger().info("loaded %s", total)
    return {"day": day, **load(total)}
"""


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


def write_zip(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(files))
    return path


def etl_artifact(package: str) -> dict[str, str]:
    """The ETL module as `<package>/etl.py`: in-process tests import each artifact under its own name,
    as a run's process imports only its own."""
    return {f"{package}/__init__.py": "", f"{package}/etl.py": ETL_MODULE}
