"""The documents a session may attach: which files are accepted, and what is read from them.

A file's kind comes from its extension, and its declared content type must be one that kind is
sent as (or `application/octet-stream`, what a browser sends for a type it does not know). Images
are refused: there is no OCR. Reading a file gives its text (PDF pages, Word paragraphs and tables,
slide text, or the text file itself) and, for data files (CSV, JSON, YAML), its records: a JSON
Schema inferred from them and a few samples. The text is data for the planner, never instructions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from dagy.server.domains.ai_studio import schema_inference
from dagy.server.errors import InvalidInput

MAX_TEXT_CHARS = 200_000
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # a DOCX or PPTX that inflates past this is refused
MAX_RECORDS = 10_000  # records a schema is inferred from
SAMPLE_RECORDS = 5
MAX_SAMPLE_CHARS = 4_000  # a record longer than this, as JSON, is no sample
MAX_YAML_ALIASES = 100

_GENERIC = "application/octet-stream"
_TEXT = "text/plain"
KIND_OF_EXTENSION = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".csv": "csv",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}
CONTENT_TYPES = {
    "pdf": {"application/pdf"},
    "docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    "pptx": {"application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    "csv": {"text/csv", "application/csv", "application/vnd.ms-excel", _TEXT},
    "txt": {_TEXT},
    "md": {"text/markdown", "text/x-markdown", _TEXT},
    "json": {"application/json", "text/json", _TEXT},
    "yaml": {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", _TEXT},
}
DATA_KINDS = ("csv", "json", "yaml")
_IMAGE_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff",
    ".heic", ".heif", ".svg", ".ico", ".avif",
}  # fmt: skip
_SUPPORTED = "PDF, DOCX, PPTX, CSV, TXT, MD, JSON or YAML"
_NO_IMAGES = "images are not supported (no OCR): attach a PDF, DOCX, PPTX, CSV, TXT, MD, JSON or YAML"


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    text_truncated: bool
    schema: dict[str, Any] | None = None
    samples: list[Any] = field(default_factory=list)


def attachment_kind(filename: str, content_type: str) -> str:
    """The kind of a file to be attached, or 400 naming `filename` or `content_type`."""
    extension = PurePosixPath(filename.lower()).suffix
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.startswith("image/"):
        raise InvalidInput("Images cannot be attached.", details={"content_type": _NO_IMAGES})
    if extension in _IMAGE_EXTENSIONS:
        raise InvalidInput("Images cannot be attached.", details={"filename": _NO_IMAGES})
    kind = KIND_OF_EXTENSION.get(extension)
    if kind is None:
        raise InvalidInput(
            "Unsupported attachment type.",
            details={"filename": f"must end in {', '.join(KIND_OF_EXTENSION)} ({_SUPPORTED})"},
        )
    allowed = CONTENT_TYPES[kind]
    if media_type not in allowed and media_type != _GENERIC:
        raise InvalidInput(
            f"A .{kind} file is not sent as {media_type}.",
            details={"content_type": f"one of {', '.join(sorted(allowed | {_GENERIC}))}"},
        )
    return kind


def parse_document(kind: str, data: bytes) -> ParsedDocument:
    """What is read from a file of `kind`; 400 naming `file` when it is not such a file."""
    reader = _READERS[kind]
    try:
        return reader(data)
    except InvalidInput:
        raise
    except Exception as exc:  # every library raises its own errors on a broken file
        raise InvalidInput(
            f"The file could not be read as {kind.upper()}.",
            details={"file": f"not a readable {kind.upper()} file: {type(exc).__name__}: {str(exc)[:300]}"},
        ) from exc


def _text_only(text: str) -> ParsedDocument:
    return ParsedDocument(text=text[:MAX_TEXT_CHARS], text_truncated=len(text) > MAX_TEXT_CHARS)


def _with_records(text: str, records: list[Any]) -> ParsedDocument:
    inferred = schema_inference.infer_schema(records[:MAX_RECORDS]) if records else None
    samples = [
        r for r in records[: SAMPLE_RECORDS * 4] if len(json.dumps(r, default=str)) <= MAX_SAMPLE_CHARS
    ]
    return ParsedDocument(
        text=text[:MAX_TEXT_CHARS],
        text_truncated=len(text) > MAX_TEXT_CHARS,
        schema=inferred,
        samples=json.loads(json.dumps(samples[:SAMPLE_RECORDS], default=str)),
    )


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not UTF-8 text.", details={"file": f"not UTF-8 text (byte {exc.start})"}
        ) from exc


def _read_pdf(data: bytes) -> ParsedDocument:
    from pypdf import PdfReader  # noqa: PLC0415 - the document libraries load when a file is read

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise InvalidInput(
            "The PDF is encrypted.", details={"file": "encrypted PDF: attach it without a password"}
        )
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    return _text_only("\n\n".join(text for text in pages if text))


def _check_zip(data: bytes) -> None:
    """DOCX and PPTX are ZIP archives: one that would inflate past `MAX_UNZIPPED_BYTES` is refused."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise InvalidInput("The file inflates too far.", details={"file": "its contents are too large"})


def _read_docx(data: bytes) -> ParsedDocument:
    import docx  # noqa: PLC0415 - as above

    _check_zip(data)
    document = docx.Document(io.BytesIO(data))
    lines = [paragraph.text for paragraph in document.paragraphs if paragraph.text.strip()]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return _text_only("\n".join(lines))


def _read_pptx(data: bytes) -> ParsedDocument:
    import pptx  # noqa: PLC0415 - as above

    _check_zip(data)
    presentation = pptx.Presentation(io.BytesIO(data))
    slides = []
    for number, slide in enumerate(presentation.slides, start=1):
        texts = [text for shape in slide.shapes for text in _shape_texts(shape)]
        slides.append(f"Slide {number}:\n" + "\n".join(texts))
    return _text_only("\n\n".join(slides))


def _shape_texts(shape: Any) -> Iterator[str]:
    if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
        yield shape.text_frame.text.strip()
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            yield " | ".join(cell.text.strip() for cell in row.cells)
    for child in getattr(shape, "shapes", ()):  # a group
        yield from _shape_texts(child)


def _read_text(data: bytes) -> ParsedDocument:
    return _text_only(_decoded(data))


def _read_csv(data: bytes) -> ParsedDocument:
    text = _decoded(data)
    head = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not rows.fieldnames:
        raise InvalidInput("The CSV file has no header row.", details={"file": "no header row"})
    records = []
    for row in rows:
        records.append({str(key): _typed(value) for key, value in row.items() if key is not None})
        if len(records) >= MAX_RECORDS:
            break
    return _with_records(text, records)


_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def _typed(value: str | None) -> Any:
    """A CSV cell as the JSON value it spells: null, a boolean, a number or a string."""
    if value is None or value.strip() == "":
        return None
    stripped = value.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if _INTEGER.match(stripped):
        return int(stripped)
    if _NUMBER.match(stripped):
        return float(stripped)
    return value


def _read_json(data: bytes) -> ParsedDocument:
    text = _decoded(data)
    return _with_records(text, _records(json.loads(text)))


def _read_yaml(data: bytes) -> ParsedDocument:
    text = _decoded(data)
    aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
    if aliases > MAX_YAML_ALIASES:  # a few aliases nested deep make a document of billions of nodes
        raise InvalidInput(
            "The YAML file has too many aliases.", details={"file": f"at most {MAX_YAML_ALIASES} aliases"}
        )
    documents = [document for document in yaml.safe_load_all(text) if document is not None]
    value = documents[0] if len(documents) == 1 else documents
    return _with_records(text, _records(json.loads(json.dumps(value, default=str))))


def _records(value: Any) -> list[Any]:
    """The records a data file holds: a list of objects, the list of objects of an object's only
    list-valued field (`{"records": [...]}`), or the one object itself."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if isinstance(value, dict):
        lists = [
            item for item in value.values() if isinstance(item, list) and item and isinstance(item[0], dict)
        ]
        if len(lists) == 1:
            return [item for item in lists[0] if isinstance(item, dict)]
        return [value]
    return []


_READERS: dict[str, Callable[[bytes], ParsedDocument]] = {
    "pdf": _read_pdf,
    "docx": _read_docx,
    "pptx": _read_pptx,
    "csv": _read_csv,
    "txt": _read_text,
    "md": _read_text,
    "json": _read_json,
    "yaml": _read_yaml,
}
