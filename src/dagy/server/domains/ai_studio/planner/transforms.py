"""What happens to the records between source and sink: validation, normalisation, deduplication
and custom python steps, read from a clause's words (each builder takes the clause, what is known
and the steps so far)."""

from __future__ import annotations

import re
from typing import Any

from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.endpoints import INVALID
from dagy.server.domains.ai_studio.planner.fields import Known, schema_for
from dagy.server.domains.ai_studio.planner.step import Role, Step
from dagy.server.domains.ai_studio.planner.stubs import cleanup_code, stub_code

_I = re.IGNORECASE
VALIDATE_WORDS = re.compile(
    r"\bvalidat\w*|\bschema\b|\bconform\w*|\bverif\w*|\bcheck\w*\s+(?:that|against|each|every|the\s+schema)"
    r"|\b(?:make\s+sure|ensure\w*)\s+(?:that\s+)?(?:each|every|all|the)\b",
    _I,
)
_CAST_TYPES = r"integer|int|number|float|decimal|string|str|text|boolean|bool"
_CAST_VERB = re.compile(r"\b(?:cast|convert|coerce)\w*\s", _I)
_CAST = re.compile(rf"([\w,\s]+?)\s+(?:to|as|into)\s+(?:an?\s+)?({_CAST_TYPES})s?\b", _I)
_CAST_KIND = {"int": "integer", "float": "number", "decimal": "number", "str": "string", "text": "string"}
_CAST_KIND |= {"bool": "boolean"}
_KEY_CASE_TARGET = (
    r"(?:\s+(?:the\s+|all\s+)?(?:keys|field\s+names|column\s+names|headers|columns|property\s+names))"
)
_GENERAL_CLEANUP = re.compile(
    r"\bnormali[sz]\w*|\bclean\w*|\bstandardi[sz]\w*|\btid(?:y|ie)\w*|\btrim\w*", _I
)
_DATE_WORDS = re.compile(r"\b(?:dates?|timestamps?|iso(?:[- ]?8601)?|datetimes?)\b", _I)


def validator_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    data: dict[str, Any] = {"schema": schema_for(text, known)}
    explicit = {"schema"} if data["schema"].get("properties") else set()
    on_invalid = _on_invalid(text)
    if on_invalid:
        data["on_invalid"] = on_invalid
        explicit.add("on_invalid")
    # "drop invalid records" alone is a setting of the validator, not a second one.
    role: Role = "option" if on_invalid and not VALIDATE_WORDS.search(text) else "main"
    validator = Step("schema_validator", "Validate schema", data, explicit, role=role, clause=text)
    casts = _csv_casts(data["schema"]) if known.read_format == "csv" and not known.editing else {}
    if role == "option" or not casts:
        return [validator]
    # CSV cells are text: typed fields are cast first, or every record would fail the schema.
    cast = Step(
        "python_function", "Cast CSV values", {"code": cleanup_code([], [], casts), "entrypoint": "main"}
    )
    return [cast, validator]


def _csv_casts(schema: dict[str, Any]) -> dict[str, str]:
    casts = {}
    for name, prop in (schema.get("properties") or {}).items():
        kinds = prop.get("type") if isinstance(prop, dict) else None
        kind = next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds
        if kind in ("integer", "number", "boolean"):
            casts[name] = kind
    return casts


def _on_invalid(text: str) -> str | None:
    if not INVALID.search(text) and not re.search(r"\bon\s+invalid\b", text, _I):
        return None
    if re.search(
        r"\b(?:fail|stop|abort|halt)(?:s|ed)?\b(?!\s+(?:the\s+)?(?:validation|schema|check))", text, _I
    ):
        return "fail"
    if re.search(r"\b(?:drop|discard|skip|ignor|filter\w*\s+out|remov|throw\w*\s+away)\w*", text, _I):
        return "drop"
    return None


def normalizer_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    """A data normalizer for what it can do (renames, key case, trimming, ISO dates, nulls), and a
    python step for value clean-ups it cannot (lower-casing values, casting types)."""
    data: dict[str, Any] = {}
    rename = _renames(text)
    if rename:
        data["rename"] = rename
    key_case = _key_case(text)
    if key_case:
        data["key_case"] = key_case
    notes: list[str] = []
    if _DATE_WORDS.search(text):
        dates = _date_fields(text, known)
        if dates:
            data["date_fields"] = dates
        else:
            notes.append("no date fields were named; list them in date_fields to rewrite them as ISO 8601")
    if re.search(r"\b(?:drop|remov|omit|strip)\w*\s+(?:the\s+|all\s+)?(?:nulls?|empty|blank)", text, _I):
        data["drop_nulls"] = True
    explicit = set(data)
    if re.search(r"\btrim\w*|\bwhitespace\b|\bstrip\w*\s+(?:the\s+)?spaces", text, _I):
        explicit.add("trim_strings")
    data["trim_strings"] = True
    steps = []
    if explicit or _GENERAL_CLEANUP.search(text):
        steps.append(Step("data_normalizer", "Normalise records", data, explicit, notes=notes, clause=text))
    cleanup = _value_cleanup(text, known, key_case=key_case is not None)
    return steps + cleanup


def _renames(text: str) -> dict[str, str]:
    match = re.search(r"\brenam\w*\b", text, _I)
    if match is None:
        return {}
    pairs = re.findall(
        r"[`'\"]?([A-Za-z_][\w.\-]*)[`'\"]?\s+(?:to|as|->|→|into)\s+[`'\"]?([A-Za-z_][\w.\-]*)",
        text[match.end() :],
    )
    return {old: new for old, new in pairs if old.lower() not in ("it", "them", "field", "fields", "column")}


def _key_case(text: str) -> str | None:
    if re.search(r"\bsnake[_ ]?case\b", text, _I):
        return "snake"
    if re.search(
        rf"\blower[- ]?cas\w*{_KEY_CASE_TARGET}|{_KEY_CASE_TARGET}\s+(?:to\s+|in\s+)?lower[- ]?case", text, _I
    ):
        return "lower"
    return None


def _date_fields(text: str, known: Known) -> list[str]:
    named = [name for name in phrases.field_names(text) if re.search(r"(?:_at|_on|date|time|_ts)$", name, _I)]
    return named or list(known.date_fields)


def _value_cleanup(text: str, known: Known, *, key_case: bool) -> list[Step]:
    lower, upper = (
        ([], []) if key_case else (_cased_fields(text, "lower", known), _cased_fields(text, "upper", known))
    )
    casts: dict[str, str] = {}
    verb = _CAST_VERB.search(text)
    for names, kind in _CAST.findall(text[verb.end() :]) if verb else []:
        for name in phrases.field_names(names):
            casts[phrases.singular(name, set(known.fields))] = _CAST_KIND.get(kind.lower(), kind.lower())
    if not (lower or upper or casts):
        return []
    label = "Clean up values"
    data = {"code": cleanup_code(lower, upper, casts), "entrypoint": "main"}
    return [Step("python_function", label, data, {"code"}, clause=text)]


def _cased_fields(text: str, case: str, known: Known) -> list[str]:
    if not re.search(rf"\b{case}[- ]?cas\w*", text, _I):
        return []
    cleaned = re.sub(rf"\b{case}[- ]?cas\w*", " ", text, flags=_I)
    verb = _CAST_VERB.search(cleaned)
    cleaned = cleaned[: verb.start()] if verb else cleaned
    words = [
        w for w in phrases.field_names(cleaned) if not _GENERAL_CLEANUP.match(w) and w.lower() != "addresses"
    ]
    return [
        phrases.singular(word, set(known.fields)) for word in words if not re.match(r"renam|trim", word, _I)
    ]


def deduplicator_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    keys = phrases.fields_after(
        text, r"\b(?:by|on|using|per|over|based\s+on|keyed\s+by|keys?(?:\s+(?:is|are|=|:|to|fields?))?)\b"
    )
    if not keys:
        match = re.search(r"\b(?:duplicat\w*|unique|distinct)\s+([A-Za-z_]\w*)", text, _I)
        keys = [match.group(1)] if match and match.group(1).lower() not in phrases.STOP_WORDS else []
    keys = [phrases.singular(key, set(known.fields)) for key in keys]
    notes = []
    if not keys:
        keys = [known.likely_key()]
        notes.append(f"no key was named; deduplicating by {keys[0]!r}: set the key fields if that is wrong")
    data: dict[str, Any] = {"key_fields": keys}
    explicit = set() if notes else {"key_fields"}
    if re.search(r"\b(?:last|latest|newest|most\s+recent)\b", text, _I):
        data["keep"] = "last"
        explicit.add("keep")
    if re.search(r"case[- ]?insensitive|ignor\w*\s+(?:the\s+)?case|regardless\s+of\s+case", text, _I):
        data["case_sensitive"] = False
        explicit.add("case_sensitive")
    label = f"Deduplicate by {', '.join(keys)}"
    return [Step("deduplicator", label, data, explicit, notes=notes, clause=text)]


def python_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    label = phrases.short_label(text)
    data = {"code": stub_code(phrases.without_lead_in(text)), "entrypoint": "main"}
    return [Step("python_function", label, data, set(), clause=text)]
