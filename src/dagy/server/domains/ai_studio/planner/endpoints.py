"""Where the data comes from and where it goes: S3 reads and writes, HTTP fetches and webhooks,
read from a clause's words (each builder takes the clause, what is known and the steps so far)."""

from __future__ import annotations

import re
from typing import Any

from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.fields import Known
from dagy.server.domains.ai_studio.planner.step import Role, Step
from dagy.server.domains.ai_studio.planner.workflow import PLACEHOLDER_BUCKET

PLACEHOLDER_API = "https://api.example.com/data"
PLACEHOLDER_WEBHOOK = "https://hooks.example.com/webhook"
PLACEHOLDER_SLACK = "https://hooks.example.com/slack"
FORMAT_LABELS = {"json": "JSON", "jsonl": "JSON lines", "csv": "CSV", "parquet": "Parquet", "text": "text"}
EXTENSION_OF = {"json": "json", "jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "text": "txt"}

_I = re.IGNORECASE
S3_MENTION = re.compile(
    r"s3://|\bs3\b|\bbucket\b|\b(?:writ|sav|stor|put|upload|export)\w*\s+(?:[\w\-]+\s+){0,3}?back\b", _I
)
WEBHOOK_WORDS = re.compile(
    r"(?<!incoming\s)\bwebhooks?\b(?!\s+(?:payloads?|events?|triggers?|requests?|calls?))|\bslack\b"
    r"|\bmicrosoft\s+teams\b|\bdiscord\b|\bnotif\w*|\balert\w*|\bping\w*|\bcallback\b",
    _I,
)
INVALID = re.compile(
    r"\b(?:invalid|rejected|bad|malformed)\b|\bfail\w*\s+(?:the\s+)?(?:validation|schema|check)", _I
)
_WRITE = re.compile(
    r"\b(?:writ\w*|wrote|sav\w*|stor\w*|upload\w*|export\w*|land\w*|dump\w*|persist\w*|put\w*|"
    r"archiv\w*|output\w*|deliver\w*|back\s+(?:to|in|into))\b",
    _I,
)
_READ = re.compile(
    r"\b(?:read\w*|load\w*|ingest\w*|pull\w*|fetch\w*|get\w*|import\w*|pick\w*\s+up|consum\w*|collect\w*|"
    r"grab\w*|download\w*|list\w*|scan\w*|watch\w*|take\w*|source\w*)\b",
    _I,
)
_FROM_BEFORE = re.compile(r"\bfrom\s+(?:the\s+|an?\s+|our\s+|my\s+)?(?:[\w\-]+\s+){0,2}$", _I)
_TO_BEFORE = re.compile(r"\b(?:to|into|onto)\s+(?:the\s+|an?\s+|our\s+|my\s+)?(?:[\w\-]+\s+){0,2}$", _I)
_COPY = re.compile(r"\b(?:cop(?:y|ies|ying)|mov(?:e|es|ing)|sync\w*|mirror\w*|replicat\w*)\b", _I)
_SEND = re.compile(r"\b(?:post\w*|send\w*|sent|push\w*|deliver\w*|forward\w*|notif\w*|submit\w*)\b", _I)
_NOTIFY = re.compile(
    r"\bnotif\w*|\balert\w*|\bslack\b|\bteams\b|\bdiscord\b|\bwhen\s+(?:it(?:'s|\s+is)\s+)?(?:done|finished|"
    r"complete)|\bonce\b|\blet\s+\w+\s+know\b|\bping\b",
    _I,
)
_DATA_WORDS = re.compile(r"\b(?:records|rows|results|data|them|output|each|items|entries)\b", _I)


def s3_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    """A read or a write (or both: "copy s3://a/ to s3://b/")."""
    addresses = phrases.s3_addresses(text)
    if len(addresses) >= 2 or (_COPY.search(text) and addresses):
        first_uri = phrases.S3_URI.search(text)
        rest = text[first_uri.end() :] if first_uri and len(addresses) >= 2 else text
        target = addresses[-1] if len(addresses) >= 2 else None
        write = s3_write(rest, known, address=target)
        # Ordered where its address is named: "read s3://a/ dedupe by id write to s3://b/".
        write.at = list(phrases.S3_URI.finditer(text))[-1].start()
        return [s3_ingest(text, known, address=addresses[0]), write]
    address = addresses[0] if addresses else None
    if _reads_s3(text, first=not before):
        return [s3_ingest(text, known, address=address)]
    return [s3_write(text, known, address=address)]


def _reads_s3(text: str, *, first: bool) -> bool:
    """Whether a clause mentioning S3 reads from it: its verb, else "from S3", else a write verb
    anywhere, else a read verb anywhere, else whether it is the request's first step."""
    plain = phrases.masked(text)
    mention = S3_MENTION.search(plain)
    before = plain[: mention.start()] if mention else plain
    if _FROM_BEFORE.search(before):
        return True
    if _TO_BEFORE.search(before):  # "load into s3://...", "upload to the bucket"
        return False
    lead = phrases.without_lead_in(plain)
    if _READ.match(lead) or _WRITE.match(lead):
        return bool(_READ.match(lead))
    if _WRITE.search(plain):
        return False
    if _READ.search(plain):
        return True
    return first


def s3_ingest(text: str, known: Known, *, address: tuple[str, str] | None) -> Step:
    bucket, prefix = address or (phrases.named_bucket(text) or "", "")
    explicit = {"bucket"} if bucket else set()
    named_format = phrases.file_format(text)
    file_format = named_format or known.attachment_format or "json"
    data: dict[str, Any] = {"bucket": bucket or PLACEHOLDER_BUCKET}
    if prefix:
        data["prefix"] = prefix
        explicit.add("prefix")
    data["format"] = file_format
    if named_format:
        explicit.add("format")
    known.read_bucket, known.read_prefix, known.read_format = data["bucket"], prefix, file_format
    return Step("s3_ingest", f"Read {FORMAT_LABELS[file_format]} from S3", data, explicit, clause=text)


def s3_write(text: str, known: Known, *, address: tuple[str, str] | None) -> Step:
    """A write where the clause says, else back to the bucket read from, under `processed/`."""
    named_format = phrases.file_format(text)
    back = bool(re.search(r"\bback\b|\bsame\s+bucket\b", text, _I))
    bucket, path = address or (phrases.named_bucket(text) or "", "")
    explicit = {"bucket", "key"} if bucket else set()
    if not bucket:
        bucket = known.read_bucket or PLACEHOLDER_BUCKET
        path = "/".join(part for part in ("processed", known.read_prefix.strip("/")) if part)
    file_format = named_format or (known.read_format if back and known.read_format else "jsonl")
    has_extension = any(path.lower().endswith(extension) for extension in phrases.EXTENSIONS)
    folder = path.strip("/") or "output"
    key = path if has_extension else f"{folder}/{{date}}/{{run_id}}.{EXTENSION_OF[file_format]}"
    data = {"bucket": bucket, "key": key, "format": file_format}
    if named_format:
        explicit.add("format")
    return Step("s3_write", f"Write {FORMAT_LABELS[file_format]} to S3", data, explicit, clause=text)


def url_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    """A URL is posted to when the clause sends something, else fetched."""
    if _SEND.search(text) or WEBHOOK_WORDS.search(text):
        return webhook_steps(text, known, before)
    return http_fetch_steps(text, known, before)


def http_fetch_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    found = phrases.urls(text)
    data: dict[str, Any] = {"url": found[0] if found else PLACEHOLDER_API, "method": "GET"}
    explicit = {"url"} if found else set()
    if re.search(r"\b(?:html|web\s*page|plain\s+text|as\s+text)\b", text, _I):
        data["response_format"] = "text"
        explicit.add("response_format")
    secret = phrases.secret_name(text)
    if secret:
        data["auth_token"] = {"secret": secret}
        explicit.add("auth_token")
    return [Step("http_fetch", f"Fetch {_where(data['url'])}", data, explicit, clause=text)]


def webhook_steps(text: str, known: Known, before: list[Step]) -> list[Step]:
    found = phrases.urls(text)
    slack = bool(re.search(r"\bslack\b", text, _I)) or any("hooks.slack.com" in url for url in found)
    url = found[0] if found else (PLACEHOLDER_SLACK if slack else PLACEHOLDER_WEBHOOK)
    data: dict[str, Any] = {"url": url}
    explicit = {"url"} if found else set()
    method = re.search(r"\b(PUT|PATCH)\b", text)
    if method:
        data["method"] = method.group(1)
        explicit.add("method")
    secret = phrases.secret_name(text)
    if secret:
        data["signing_secret"] = {"secret": secret}
        explicit.add("signing_secret")
    role = _webhook_role(text, before, known)
    if slack:  # Slack's incoming webhooks take {"text": ...}, not records
        data["payload"] = {"text": _SLACK_TEXT[role]}
    label = "Notify Slack" if slack else f"POST to {_where(url)}"
    return [Step("webhook_post", label, data, explicit, role=role, clause=text)]


_SLACK_TEXT = {
    "main": "Dagy: the workflow has new results.",
    "notify": "Dagy: the workflow finished.",
    "invalid": "Dagy: records failed validation.",
    "option": "Dagy: the workflow finished.",
}


def _webhook_role(text: str, before: list[Step], known: Known) -> Role:
    if INVALID.search(phrases.masked(text)):
        return "invalid"
    writes = known.writes or any(step.is_sink for step in before)
    if _NOTIFY.search(text) and not _DATA_WORDS.search(text) and writes:
        return "notify"
    return "main"


def _where(url: str) -> str:
    shown = re.sub(r"^https?://", "", url).split("?")[0].rstrip("/")
    return shown if len(shown) <= 40 else shown[:39] + "…"
