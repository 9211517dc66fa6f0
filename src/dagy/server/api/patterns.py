"""Name rules in words: what a request's `pattern` refusal says instead of the regular expression.

Every name pattern of the API has the same simple shape: `^[first][rest]{m,n}$` (a first character,
then more) or `^[chars]{m,n}$`. `describe()` says such a pattern in words (`1 to 128 characters:
letters, digits, _ . -; starting with a letter or digit`); a pattern of another shape is None, and
the refusal keeps pydantic's message.
"""

from __future__ import annotations

import re

_FIRST_AND_REST = re.compile(r"^\^\[([^\]]+)\]\[([^\]]+)\]\{(\d+),(\d+)\}\$$")
_ONLY = re.compile(r"^\^\[([^\]]+)\]\{(\d+),(\d+)\}\$$")
_RANGES = (
    ("A-Za-z", "letters"),
    ("a-z", "lowercase letters"),
    ("A-Z", "uppercase letters"),
    ("0-9", "digits"),
)


def describe(pattern: str) -> str | None:
    """`pattern` in words, or None when it is not of the simple shape."""
    first_and_rest = _FIRST_AND_REST.match(pattern)
    if first_and_rest:
        first, rest, low, high = first_and_rest.groups()
        size = _size(int(low) + 1, int(high) + 1)
        return f"{size}: {_chars(rest)}; starting with {_one_of(first)}"
    only = _ONLY.match(pattern)
    if only:
        chars, low, high = only.groups()
        return f"{_size(int(low), int(high))}: {_chars(chars)}"
    return None


def _size(low: int, high: int) -> str:
    return f"at most {high} characters" if low == 0 else f"{low} to {high} characters"


def _parts(chars: str) -> list[str] | None:
    """The classes (`letters`, `digits`) and single characters of a character class."""
    parts: list[str] = []
    rest = chars
    while rest:
        for text, words in _RANGES:
            if rest.startswith(text):
                parts.append(words)
                rest = rest[len(text) :]
                break
        else:
            if len(rest) > 1 and rest[1] == "-" and len(rest) > 2:
                return None  # another range: not said in words
            parts.append(rest[0].replace("\\", ""))
            rest = rest[1:]
    return parts


_SINGULAR = {
    "letters": "a letter",
    "lowercase letters": "a lowercase letter",
    "uppercase letters": "an uppercase letter",
    "digits": "a digit",
}


def _listed(words: list[str], last: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _chars(chars: str) -> str:
    parts = _parts(chars)
    return _listed(parts, "and") if parts else chars


def _one_of(chars: str) -> str:
    parts = _parts(chars)
    return _listed([_SINGULAR.get(part, part) for part in parts], "or") if parts else chars
