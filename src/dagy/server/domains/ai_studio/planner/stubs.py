"""The code of the `python_function` steps the embedded planner writes.

Custom logic described in words becomes a stub: it validates and runs, passing the data through
unchanged, and its docstring says what the user asked for and what to fill in (the studio never
runs it; the user reads it first). Value clean-ups the data normalizer cannot do (lower-casing a
field's values, casting types) become real code.
"""

from __future__ import annotations

import json

from dagy.server.domains.ai_studio.planner.workflow import STUB_MARKER

_STUB = '''def main(inputs, params):
    """{description}

    {marker}: write this step. `inputs` holds each upstream step's output by step id, `params`
    the run's parameters; what this function returns goes to the next step. Until it is written,
    it passes the data through unchanged.
    """
    values = list(inputs.values())
    return values[0] if len(values) == 1 else values
'''

_CLEANUP = '''LOWER_CASE = {lower}
UPPER_CASE = {upper}
CASTS = {casts}
TRUE_OR_FALSE = {{"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}}


def cast(value, kind):
    """The value as `kind`; a value that cannot be read as one stays as it is (a schema check
    after this step reports it)."""
    if value is None or value == "":
        return None
    if kind == "string":
        return str(value)
    text = str(value).strip().lower()
    if kind == "boolean":
        return TRUE_OR_FALSE.get(text, value)
    try:
        number = float(text)
    except ValueError:
        return value
    if kind == "integer":
        return int(number) if number.is_integer() else value
    return number


def main(inputs, params):
    """{description}"""
    records = []
    for value in inputs.values():
        records.extend(value if isinstance(value, list) else [value])
    for record in records:
        for name in LOWER_CASE:
            if isinstance(record.get(name), str):
                record[name] = record[name].lower()
        for name in UPPER_CASE:
            if isinstance(record.get(name), str):
                record[name] = record[name].upper()
        for name, kind in CASTS.items():
            if name in record:
                record[name] = cast(record[name], kind)
    return records
'''


def docstring_text(text: str) -> str:
    """Words safe inside a triple-quoted docstring."""
    return " ".join(text.replace("\\", "/").replace('"""', "'''").split()) or "A custom step."


def stub_code(description: str) -> str:
    return _STUB.format(description=_sentence(docstring_text(description)), marker=STUB_MARKER)


def cleanup_code(lower: list[str], upper: list[str], casts: dict[str, str]) -> str:
    """Lower-/upper-cases the values of some fields and casts others (integer, number, boolean,
    string), record by record."""
    parts = [f"lower-case {', '.join(lower)}"] if lower else []
    parts += [f"upper-case {', '.join(upper)}"] if upper else []
    parts += [f"cast {name} to {kind}" for name, kind in casts.items()]
    return _CLEANUP.format(
        lower=json.dumps(lower),
        upper=json.dumps(upper),
        casts=json.dumps(casts),
        description=_sentence(docstring_text("; ".join(parts))),
    )


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
