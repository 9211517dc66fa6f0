"""The embedded planner's vocabulary: which allowlisted node types a clause names, in what order.

`steps_of(clauses, known)` answers the steps of a request as it names them. Each clause is looked
at for every kind of step (an S3 mention, a URL, validation, normalisation, deduplication, a
webhook word, an API); a clause naming none of them but starting with a verb of custom logic
("compute", "enrich", "mask", ...) is a python step; one naming nothing continues the clause before
it and is glued to it ("deduplicate by email" + "and id").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.endpoints import (
    INVALID,
    S3_MENTION,
    WEBHOOK_WORDS,
    http_fetch_steps,
    s3_steps,
    url_steps,
    webhook_steps,
)
from dagy.server.domains.ai_studio.planner.fields import Known
from dagy.server.domains.ai_studio.planner.phrases import Clause
from dagy.server.domains.ai_studio.planner.step import Step
from dagy.server.domains.ai_studio.planner.transforms import (
    VALIDATE_WORDS,
    deduplicator_steps,
    normalizer_steps,
    python_steps,
    validator_steps,
)

_I = re.IGNORECASE
Builder = Callable[[str, Known, list[Step]], list[Step]]
_KINDS: dict[str, re.Pattern[str]] = {
    "deduplicator": re.compile(r"\bde-?dup\w*|\bduplicat\w*|\bunique\b|\bdistinct\b", _I),
    "schema_validator": VALIDATE_WORDS,
    "on_invalid": re.compile(
        r"\b(?:drop|discard|skip|ignor|filter\w*\s+out|remov|fail|stop|abort)\w*\s+(?:on\s+|if\s+|when\s+)?"
        r"(?:the\s+|any\s+|all\s+)?(?:invalid|malformed|bad)\b|\bon\s+invalid\b",
        _I,
    ),
    "data_normalizer": re.compile(
        r"\bnormali[sz]\w*|\bclean\w*|\btrim\w*|\bstrip\w*\s+(?:the\s+)?(?:whitespace|spaces)|\bwhitespace\b"
        r"|\blower[- ]?cas\w*|\bupper[- ]?cas\w*|\bsnake[_ ]?case\b|\brenam\w*|\bstandardi[sz]\w*"
        r"|\btid(?:y|ie)\w*|\biso(?:[- ]?8601)?\b"
        r"|\b(?:cast|convert|coerce)\w*\s+(?:the\s+)?[\w,\s]+?\s+(?:to|as|into)\s+(?:an?\s+)?"
        r"(?:integer|int|number|float|decimal|string|boolean)"
        r"|\b(?:drop|remov|omit)\w*\s+(?:the\s+|all\s+)?(?:nulls?|empty|blank)",
        _I,
    ),
    "webhook_post": WEBHOOK_WORDS,
    "http_fetch": re.compile(r"\b(?:rest\s+)?api\b|\bendpoint\b|\bhttp\b", _I),
    "s3": S3_MENTION,
}
_PYTHON_FIRST_WORD = re.compile(
    r"^(?:comput|calculat|enrich|aggregat|sum|count|group|join|merg|mask|redact|anonymi[sz]|hash|scor|"
    r"classif|transform|map|flatten|explod|extract|sort|rank|flag|tag|deriv|split|pivot|summari[sz]|"
    r"translat|geocod|look|apply|appli|filter|keep|exclud|pars|generat|predict|process|convert|categori[sz]|"
    r"augment|add|multipl|divid|round|truncat|mark|label|bucket|partition|drop|remov|delet|discard|"
    r"append|attach|resolv|match|reconcil|combin|calc|pseudonymi[sz]|encrypt|decrypt|detect|select|pick)\w*",
    _I,
)
_PYTHON_ANYWHERE = re.compile(
    r"\bpython\b|\bcustom\s+(?:step|code|logic|function|transform\w*)|\bbusiness\s+(?:logic|rules?)\b"
    r"|\bscript\b|\bcode\s+(?:that|which|to)\b|\bfunction\s+(?:that|which|to)\b",
    _I,
)
_TYPED_CONTINUATION = re.compile(
    r"^[\w.\-]+\s+(?:to|as|into)\s+(?:an?\s+)?(?:integer|int|number|float|decimal|string|boolean|bool)s?\b",
    _I,
)
_BUILDERS: dict[str, Builder] = {
    "s3": s3_steps,
    "url": url_steps,
    "http_fetch": http_fetch_steps,
    "webhook_post": webhook_steps,
    "schema_validator": validator_steps,
    "on_invalid": validator_steps,
    "data_normalizer": normalizer_steps,
    "deduplicator": deduplicator_steps,
    "python_function": python_steps,
}


def kinds_in(text: str) -> list[tuple[int, str]]:
    """(position, kind) of each step kind a clause names, in order; negated ones left out."""
    found: list[tuple[int, str]] = []
    plain = phrases.masked(text)
    for kind, pattern in _KINDS.items():
        match = pattern.search(plain)
        if match and not phrases.negated(plain, match.start()):
            found.append((match.start(), kind))
    kinds = {kind for _, kind in found}
    url = phrases.URL.search(text)
    if url:
        found = [(pos, kind) for pos, kind in found if kind not in ("http_fetch", "webhook_post")]
        found.append((url.start(), "url"))
    if "s3" in kinds:
        found = [(pos, kind) for pos, kind in found if kind != "http_fetch"]
    invalid = INVALID.search(plain) is not None
    if "schema_validator" in kinds or (invalid and _has_sink(found)):
        # "drop invalid records" is the validator's setting; "send invalid records to ..." a branch.
        found = [(pos, kind) for pos, kind in found if kind != "on_invalid"]
    if invalid and _has_sink(found):
        found = [(pos, kind) for pos, kind in found if kind != "schema_validator"]
    if not found and _python_named(plain):
        found.append((0, "python_function"))
    return sorted(found)


def _has_sink(found: list[tuple[int, str]]) -> bool:
    return any(kind in ("s3", "url", "webhook_post") for _, kind in found)


def _python_named(text: str) -> bool:
    lead = phrases.without_lead_in(text)
    if _TYPED_CONTINUATION.match(lead):  # "score to number" after "cast age to integer"
        return False
    return bool(_PYTHON_FIRST_WORD.match(lead) or _PYTHON_ANYWHERE.search(text))


def steps_of(clauses: list[Clause], known: Known) -> list[Step]:
    """The steps the clauses name, in order. Clauses naming none are glued to the one before."""
    kept: list[tuple[Clause, list[tuple[int, str]]]] = []
    for clause in clauses:
        kinds = kinds_in(clause.text)
        if kinds or not kept:
            kept.append((clause, kinds))
        else:
            phrases.glue(kept[-1][0], clause)
    steps: list[Step] = []
    for clause, kinds in kept:
        named: list[Step] = []
        for position, kind in kinds:
            for step in _BUILDERS[kind](clause.text, known, steps):
                step.at = step.at or position
                named.append(step)
        invalid = INVALID.search(phrases.masked(clause.text)) is not None
        # A clause's sources first ("validate the records in s3://..."), then in the order named.
        for step in sorted(named, key=lambda step: (not step.is_source, step.at)):
            if step.is_sink and invalid and step.role == "main":
                step.role = "invalid"
            if step.role == "invalid":
                step.label += " (invalid records)"
            _append(steps, step)
    return steps


def _append(steps: list[Step], step: Step) -> None:
    """Adds a step; normalisations named in a row ("trim, rename x to y") make one normalizer."""
    previous = steps[-1] if steps else None
    if previous is None or not (previous.node_type == step.node_type == "data_normalizer"):
        steps.append(step)
        return
    for key in step.explicit:
        value = step.data[key]
        if isinstance(value, dict) and isinstance(previous.data.get(key), dict):
            value = {**previous.data[key], **value}
        elif isinstance(value, list) and isinstance(previous.data.get(key), list):
            value = list(dict.fromkeys([*previous.data[key], *value]))
        previous.data[key] = value
    previous.explicit |= step.explicit
    previous.notes.extend(note for note in step.notes if note not in previous.notes)
