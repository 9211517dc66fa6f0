"""What a request knows about its records: field names and types from the session's data
attachments (their inferred JSON Schema and samples), from the canvas it edits, and from the
request's own words ("each record has id (integer), email and amount (number)")."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.base import Attachment

DATA_KINDS = {"csv": "csv", "json": "json", "yaml": "json"}
_DATE_NAME = re.compile(r"(?:_at|_on|_date|_time|_ts|date|time|timestamp)$", re.IGNORECASE)
_TYPE_WORDS = {
    "integer": "integer", "int": "integer",
    "number": "number", "float": "number", "decimal": "number", "numeric": "number", "double": "number",
    "string": "string", "str": "string", "text": "string", "date": "string", "datetime": "string",
    "timestamp": "string",
    "boolean": "boolean", "bool": "boolean",
    "object": "object", "array": "array", "list": "array",
}  # fmt: skip
_TYPED_FIELD = re.compile(
    r"[`'\"]?([A-Za-z_]\w*)[`'\"]?\s*(?:\(\s*|:\s*|\s+as\s+(?:an?\s+)?|\s+is\s+(?:an?\s+)?)"
    r"(" + "|".join(_TYPE_WORDS) + r")\b",
    re.IGNORECASE,
)
_FIELD_LIST = (
    r"\b(?:fields?|columns?|ha(?:s|ve)|with|requir\w*|contain\w*|includ\w*|check\w*\s+that|"
    r"ensure\w*\s+that|make\s+sure|validat\w*\s+that)\b:?"
)


@dataclass
class Known:
    """Fields of the records, and what the steps named so far read (a write "back" goes there)."""

    schema: dict[str, Any] | None = None  # a record's JSON Schema (from a data attachment)
    fields: list[str] = field(default_factory=list)
    date_fields: list[str] = field(default_factory=list)
    attachment_format: str | None = None
    read_bucket: str | None = None
    read_prefix: str = ""
    read_format: str | None = None
    writes: bool = False  # the canvas being edited already writes or posts somewhere
    editing: bool = False  # a modify turn: the steps change a canvas rather than make one

    @classmethod
    def of(cls, attachments: Sequence[Attachment], canvas: Mapping[str, Any] | None = None) -> Known:
        known = cls()
        for attachment in attachments:
            known._learn_attachment(attachment)
        known.editing = canvas is not None
        for node in (canvas or {}).get("nodes", []):
            if isinstance(node, dict) and isinstance(node.get("data"), dict):
                known._learn_node(str(node.get("type")), node["data"])
        return known

    def _learn_attachment(self, attachment: Attachment) -> None:
        schema = record_schema(attachment.schema)
        if schema is None and attachment.samples:
            schema = schema_of_samples(attachment.samples)
        if schema is None:
            return
        self.schema = self.schema or schema
        self.attachment_format = self.attachment_format or DATA_KINDS.get(attachment.kind)
        self._learn_schema(schema)

    def _learn_schema(self, schema: Mapping[str, Any]) -> None:
        properties = schema.get("properties") or {}
        for name, prop in properties.items():
            if name not in self.fields:
                self.fields.append(name)
            is_date = isinstance(prop, dict) and prop.get("format") in ("date", "date-time")
            if (is_date or _DATE_NAME.search(name)) and name not in self.date_fields:
                self.date_fields.append(name)

    def _learn_node(self, node_type: str, data: Mapping[str, Any]) -> None:
        if node_type == "schema_validator" and isinstance(data.get("schema"), dict):
            self.schema = self.schema or dict(data["schema"])
            self._learn_schema(data["schema"])
        elif node_type in ("s3_write", "webhook_post"):
            self.writes = True
        elif node_type == "s3_ingest" and self.read_bucket is None:
            self.read_bucket = str(data.get("bucket") or "") or None
            self.read_prefix = str(data.get("prefix") or "")
            self.read_format = str(data.get("format") or "json")

    def likely_key(self) -> str:
        """The field a deduplication most likely means when the request names none."""
        for wanted in ("id", "email"):
            if wanted in self.fields:
                return wanted
        ids = [name for name in self.fields if name.lower().endswith("_id") or name.lower().endswith("id")]
        return ids[0] if ids else "id"


def record_schema(schema: Any) -> dict[str, Any] | None:
    """A record's schema from an attachment's: an array's `items`, or the object schema itself."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    if isinstance(schema.get("properties"), dict) and schema["properties"]:
        found: dict[str, Any] = copy.deepcopy(schema)
        return found
    return None


def schema_of_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A record schema from sample records, when the attachment came without one: each field's
    JSON type, fields present in every sample required."""
    records = [sample for sample in samples if isinstance(sample, Mapping)]
    if not records:
        return None
    properties: dict[str, Any] = {}
    for record in records:
        for name, value in record.items():
            properties.setdefault(name, _json_type(value))
    required = [name for name in properties if all(name in record for record in records)]
    return {"type": "object", "properties": properties, "required": required}


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _json_type(value: Any) -> dict[str, Any]:
    found = _JSON_TYPES.get(type(value))
    return {"type": found} if found else {}


def typed_fields(text: str) -> dict[str, str]:
    """Fields given with a type in words: "id (integer)", "amount: number", "paid as a boolean"."""
    found = {}
    for name, type_word in _TYPED_FIELD.findall(text):
        if name.lower() not in phrases.STOP_WORDS:
            found[name] = _TYPE_WORDS[type_word.lower()]
    return found


def schema_for(text: str, known: Known) -> dict[str, Any]:
    """The schema a validation clause asks for: the fields it lists (typed where it says, or as
    the attachments have them), else the attachments' record schema, else any object."""
    typed = typed_fields(text)
    listed = phrases.fields_after(text, _FIELD_LIST, last=True)
    named = list(dict.fromkeys([*listed, *typed]))
    if not named:
        return copy.deepcopy(known.schema) if known.schema else {"type": "object"}
    attached = (known.schema or {}).get("properties") or {}
    properties = {}
    for name in named:
        if name in typed:
            properties[name] = {"type": typed[name]}
        else:
            properties[name] = copy.deepcopy(attached.get(name, {}))
    return {"type": "object", "required": named, "properties": properties}
