"""Reading a plain-language request at the level of words: clauses, addresses (S3 URIs, URLs),
field names, file formats and negations. The embedded planner's vocabulary (vocabulary.py and
the builders in endpoints.py and transforms.py) is built on these; nothing here knows node types.

A request is cut into clauses at sentence ends, commas and "and"/"then"; a clause names one or a
few steps ("reads JSON from S3", "deduplicates by email"). A clause that names no step continues
the one before it ("... by email" "and id"), so it is glued back to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/([^\s,;'\"`()<>]*))?", re.IGNORECASE)
URL = re.compile(r"https?://[^\s,;'\"`()<>]+", re.IGNORECASE)
BUCKET_NAMED = re.compile(
    r"\bbucket\s+(?:named\s+|called\s+)?[`'\"]?([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\b"
    r"|\b[`'\"]?([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])[`'\"]?\s+bucket\b",
    re.IGNORECASE,
)
FORMATS = {
    "jsonl": r"jsonl|ndjson|json[ -]lines|newline[- ]delimited json",
    "json": r"json",
    "csv": r"csv|comma[- ]separated",
    "parquet": r"parquet",
    "text": r"text files?|plain text|txt|log files?|logs",
}
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
EXTENSIONS |= {".txt": "text", ".log": "text"}
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+|[.!?;]+\s*$")
_CLAUSE_BREAK = re.compile(
    r"(\s*,\s*(?:and\s+then\s+|and\s+|then\s+|finally\s+)?"
    r"|\s+(?:and\s+then|and\s+finally|then|and|after\s+that|followed\s+by|->|→|=>)\s+)",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(
    r"^.*?\b(?:workflow|pipeline|flow|dag|job|etl)\b\s*(?:that|which|to|where|in\s+which|for|:)?\s*",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:(?:please|first|next|also|finally|lastly|then|and|it|we|i|should|must|will|can|could|you)\s+)+",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:without|no|not|don't|dont|do\s+not|never|skip|except)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[`'\"]([A-Za-z_][\w.\-]{0,63})[`'\"]")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _words(text: str) -> list[str]:
    return text.split()


# Words that are never field names, even where a field list is expected ("name", "type" and
# "date" are left out: they often are).
STOP_WORDS = frozenset(
    _words(
        """a an the each every all any both its their them it this that these those which who whose
    record records row rows item items entry entries object objects document documents data
    field fields column columns key keys value values names attribute attributes property
    properties by on using use per with and or of to from in into for as at is are be been must
    should has have having contain contains containing include includes including require requires
    required valid validate validates validated validation schema against following named called
    unique duplicate duplicates dedupe dedup deduplicate deduplicates deduplicated deduplication
    json csv jsonl parquet s3 bucket file files then also only same back based keyed keep latest
    last first newest oldest most recent one ones them case insensitive sensitive ignoring ignore
    write writes read reads trim lower upper lowercase uppercase normalize normalizes normalise
    normalises normalized normalised records' type types string strings number numbers integer
    integers boolean dates iso format formats convert converts cast casts step node present missing
    set null nulls empty non exist exists there well formed correct correctly proper properly
    shape structure formatted make sure ensure check checks verify verifies like than instead now too
    please rather anymore again here there"""
    )
)


@dataclass
class Clause:
    """A stretch of the request naming steps; `text` includes the clauses glued to it."""

    text: str
    sentence: int  # which sentence it came from, counting from 0


def sentences(message: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(message) if part and part.strip()]


def clauses(message: str) -> list[Clause]:
    """Each sentence cut at its commas and conjunctions."""
    found: list[Clause] = []
    for index, sentence in enumerate(sentences(message)):
        pieces = _CLAUSE_BREAK.split(sentence)[::2]  # the separators are at the odd places
        found.extend(Clause(piece.strip(), index) for piece in pieces if piece and piece.strip())
    return found


def glue(previous: Clause, following: Clause) -> None:
    """Appends a clause that names no step to the one before it ("by email" + "id")."""
    joiner = ", " if previous.sentence == following.sentence else ". "
    previous.text = f"{previous.text}{joiner}{following.text}"


def without_lead_in(text: str) -> str:
    """The clause without "Build a workflow that" and fillers ("then", "also") before its verb."""
    stripped = _LEAD_IN.sub("", text, count=1) if _LEAD_IN.match(text) else text
    return _FILLER.sub("", stripped).strip()


def negated(text: str, position: int) -> bool:
    """Whether the words just before `position` negate what follows ("without deduplication")."""
    before = text[max(0, position - 30) : position]
    words = before.split()[-3:]
    return bool(_NEGATION.search(" ".join(words)))


_HYPHENATED_BUCKET = re.compile(r"\b([a-z0-9]+(?:[.\-][a-z0-9]+)+)\s+bucket\b", re.IGNORECASE)


def masked(text: str) -> str:
    """The text with its addresses blanked out (same length, so positions hold): words inside
    `s3://acme-clean/...`, a URL or "the clean-events bucket" are not steps. An S3 URI keeps its
    `s3://`, a bucket named in words its word "bucket"."""
    text = S3_URI.sub(lambda m: "s3://" + " " * (len(m.group(0)) - 5), text)
    text = URL.sub(lambda m: " " * len(m.group(0)), text)
    return _HYPHENATED_BUCKET.sub(lambda m: " " * len(m.group(1)) + m.group(0)[len(m.group(1)) :], text)


def s3_addresses(text: str) -> list[tuple[str, str]]:
    """(bucket, key or prefix) of each s3:// URI, in order."""
    return [(match.group(1).lower(), (match.group(2) or "").rstrip(".")) for match in S3_URI.finditer(text)]


def named_bucket(text: str) -> str | None:
    """A bucket named in words: "the raw-events bucket", "bucket acme-raw"."""
    for match in BUCKET_NAMED.finditer(text):
        name = (match.group(1) or match.group(2) or "").lower()
        if name and name not in {"s3", "the", "a", "an", "same", "that", "this", "output", "input", "our"}:
            return name
    return None


def urls(text: str) -> list[str]:
    return [match.group(0).rstrip(".") for match in URL.finditer(text)]


def file_format(text: str) -> str | None:
    """The file format a clause names, or that its S3 key's extension says."""
    for _, key in s3_addresses(text):
        for extension, found in EXTENSIONS.items():
            if key.lower().endswith(extension):
                return found
    plain = URL.sub(" ", S3_URI.sub(" ", text))
    for name, pattern in FORMATS.items():
        if re.search(rf"\b(?:{pattern})\b", plain, re.IGNORECASE):
            return name
    return None


def field_names(text: str) -> list[str]:
    """Field names a stretch of text lists: quoted names when there are any, else the words that
    are not common English or Dagy vocabulary ("the email, customer_id and amount fields" ->
    email, customer_id, amount)."""
    quoted = _QUOTED.findall(text)
    if quoted:
        return list(dict.fromkeys(quoted))
    plain = URL.sub(" ", S3_URI.sub(" ", text))
    words = [word for word in _WORD.findall(plain) if word.lower() not in STOP_WORDS and len(word) > 1]
    return list(dict.fromkeys(words))


def fields_after(text: str, pattern: str, *, last: bool = False) -> list[str]:
    """Field names listed after the first (or `last`) match of `pattern` ("by email and id" after
    "by"; "validate that each payment has id and amount" after the last of "that", "has")."""
    matches = list(re.finditer(pattern, text, re.IGNORECASE))
    if not matches:
        return []
    match = matches[-1] if last else matches[0]
    rest = text[match.end() :]
    stop = re.search(r"\b(?:then|before|after|keep(?:ing)?|ignoring|case|where|so)\b", rest, re.IGNORECASE)
    return field_names(rest[: stop.start()] if stop else rest)


def singular(word: str, known: set[str]) -> str:
    """`emails` -> `email` unless the plural is a known field name."""
    if word in known or not word.lower().endswith("s") or word.lower().endswith(("ss", "us", "is")):
        return word
    return word[:-1] if len(word) > 3 else word


def secret_name(text: str) -> str | None:
    """A secret named in words: "using the secret api-token", "with secret `slack_signing`"."""
    match = re.search(
        r"\bsecret\s+(?:named\s+|called\s+)?[`'\"]?([A-Za-z0-9_.\-]{1,128})", text, re.IGNORECASE
    )
    return match.group(1).rstrip(".") if match else None


def short_label(text: str, limit: int = 60) -> str:
    """A clause as a step title: first letter up, no trailing punctuation, cut at a word."""
    words = " ".join(without_lead_in(text).split()).rstrip(".,;:!?")
    if len(words) > limit:
        words = words[:limit].rsplit(" ", 1)[0] + "…"
    return words[:1].upper() + words[1:]
