"""Transform: reshaping, checking and cleaning records between a source and a sink."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType, Ports
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.formats import combined_input, records_input, records_table

MAX_LISTED_PROBLEMS = 5
MAX_PROBLEMS_PER_RECORD = 10

_RECORDS_IN = inbound(("dataframe", "json"), required=True)
_RECORDS_OUT = outbound(("dataframe", "json"))


class SchemaValidatorNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="schema_validator",
        label="Schema Validator",
        description="Check each record against a JSON Schema; valid and invalid records leave apart.",
        category="transform",
        icon="ShieldCheck",
        color="violet",
        tags=("validation", "json schema", "data quality", "contract"),
        connectors=(
            inbound(("json", "dataframe", "any"), required=True),
            outbound(("dataframe", "json"), name="Valid"),
            outbound(("dataframe", "json"), connector_id="invalid_out", name="Invalid"),
        ),
        config_schema=(
            ConfigField("schema", "JSON Schema", "object", required=True),
            ConfigField(
                "on_invalid",
                "On invalid records",
                "enum",
                default="route",
                options=("route", "drop", "fail"),
                description="route: send them to Invalid; drop: discard them; fail: fail the node.",
            ),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _problems(schema=lambda: _json_schema_validator(data.get("schema")))

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        validator = _json_schema_validator(config.get("schema"))
        value = combined_input(inputs)
        items = value if isinstance(value, list) else [] if value is None else [value]
        valid, invalid = [], []
        for index, item in enumerate(items):
            errors = sorted(validator.iter_errors(item), key=lambda error: list(error.absolute_path))
            if errors:
                problems = [_schema_problem(error) for error in errors[:MAX_PROBLEMS_PER_RECORD]]
                invalid.append({"index": index, "record": item, "errors": problems})
            else:
                valid.append(item)
        on_invalid = str(config.get("on_invalid", "route"))
        context.logger.info("%d of %d records match the schema", len(valid), len(items))
        if invalid and on_invalid == "fail":
            raise NodeError("validation_failed", _validation_summary(invalid, len(items)))
        # Two streams leave by the node's two connectors; with one stream, it is the records.
        return Ports({"data_out": valid, "invalid_out": invalid}) if on_invalid == "route" else valid


class DataNormalizerNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="data_normalizer",
        label="Data Normalizer",
        description="Rename fields, trim strings, normalise key case and dates, drop empty values.",
        category="transform",
        icon="Wand2",
        color="violet",
        tags=("clean", "normalize", "rename", "dates", "data quality"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("rename", "Rename fields", "object", description='{"old name": "new name"}'),
            ConfigField(
                "key_case", "Key case", "enum", default="unchanged", options=("unchanged", "snake", "lower")
            ),
            ConfigField("trim_strings", "Trim strings", "boolean", default=True),
            ConfigField("date_fields", "Date fields", "array", description="Rewritten as ISO 8601."),
            ConfigField("drop_nulls", "Drop null fields", "boolean", default=False),
        ),
    )

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        rename = config.get("rename") or {}
        date_fields = config.get("date_fields") or []
        if not isinstance(rename, dict) or not all(isinstance(name, str) for name in rename.values()):
            raise NodeError("invalid_config", 'rename must map field names to new names: {"old": "new"}.')
        if not isinstance(date_fields, list) or not all(isinstance(name, str) for name in date_fields):
            raise NodeError("invalid_config", "date_fields must be a list of field names.")
        key_case, trim = str(config.get("key_case", "unchanged")), bool(config.get("trim_strings", True))
        records = [
            _normalised_record(record, index, rename, key_case, trim)
            for index, record in enumerate(records_input(inputs))
        ]
        for name in date_fields:
            _rewrite_dates(records, name)
        if config.get("drop_nulls", False):
            records = [
                {name: value for name, value in record.items() if value is not None} for record in records
            ]
        context.logger.info("Normalised %d records", len(records))
        return records


class DeduplicatorNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="deduplicator",
        label="Deduplicator",
        description="Keep one record per key: the first or the last seen.",
        category="transform",
        icon="CopyMinus",
        color="violet",
        tags=("dedupe", "duplicates", "unique", "data quality"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("key_fields", "Key fields", "array", required=True),
            ConfigField("keep", "Keep", "enum", default="first", options=("first", "last")),
            ConfigField("case_sensitive", "Case-sensitive keys", "boolean", default=True),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _problems(key_fields=lambda: _key_fields(data.get("key_fields")))

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        key_fields = _key_fields(config.get("key_fields"))
        case_sensitive = bool(config.get("case_sensitive", True))
        records = records_input(inputs)
        chosen: dict[str, int] = {}  # a key -> the index of the record kept for it
        keep_last = config.get("keep", "first") == "last"
        for index, record in enumerate(records):
            key = _record_key(record, key_fields, case_sensitive)
            if keep_last or key not in chosen:
                chosen[key] = index
        kept = [records[index] for index in sorted(chosen.values())]
        context.logger.info(
            "Kept %d of %d records (%d duplicates)", len(kept), len(records), len(records) - len(kept)
        )
        return kept


class FilterRowsNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="filter_rows",
        label="Filter Rows",
        description="Keep (or drop) the records for which an expression is true, e.g. amount > 100.",
        category="transform",
        icon="Filter",
        color="violet",
        tags=("filter", "where", "select", "rows"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("expression", "Expression", "string", required=True),
            ConfigField("mode", "Mode", "enum", default="keep", options=("keep", "drop")),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _problems(expression=lambda: _sql_expression(data.get("expression")))

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        import duckdb  # noqa: PLC0415 - imported when the node runs
        import pyarrow as pa  # noqa: PLC0415

        expression = _sql_expression(config.get("expression"))
        records = records_input(inputs)
        if not records:
            return []
        drop = config.get("mode", "keep") == "drop"
        condition = f"NOT coalesce(({expression}), false)" if drop else f"coalesce(({expression}), false)"
        table = records_table(records, strict=False)
        index_column = _unused_name(table.column_names)
        table = table.append_column(index_column, pa.array(range(len(records)), pa.int64()))
        with duckdb.connect(":memory:") as connection:
            relation = connection.from_arrow(table)
            # The expression is the author's SQL: it sees these records and nothing else.
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            try:
                rows = (
                    relation.filter(condition)
                    .project(f'"{index_column}"')
                    .order(f'"{index_column}"')
                    .fetchall()
                )
            except duckdb.Error as exc:
                raise NodeError("invalid_expression", f"{expression!r}: {exc}") from exc
        kept = [records[row[0]] for row in rows]
        context.logger.info("Kept %d of %d records", len(kept), len(records))
        return kept


class JsonTransformNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="json_transform",
        label="JSON Transform",
        description="Reshape JSON with a JMESPath expression: pick, flatten and rename in one step.",
        category="transform",
        icon="Braces",
        color="violet",
        tags=("json", "jmespath", "map", "reshape", "extract"),
        connectors=(inbound(("json", "dataframe"), required=True), outbound(("json", "dataframe"))),
        config_schema=(ConfigField("expression", "JMESPath expression", "code", required=True),),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _problems(expression=lambda: _jmespath(data.get("expression")))

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        import jmespath  # noqa: PLC0415 - imported when the node runs

        expression = _jmespath(config.get("expression"))
        try:
            return expression.search(combined_input(inputs))
        except jmespath.exceptions.JMESPathError as exc:
            raise NodeError("invalid_expression", f"{expression.expression!r}: {exc}") from exc


NODES: tuple[type[NodeType], ...] = (
    SchemaValidatorNode,
    DataNormalizerNode,
    DeduplicatorNode,
    FilterRowsNode,
    JsonTransformNode,
)


def _problems(**checks: Any) -> dict[str, str]:
    """`check()` from the functions `run()` uses: each field's NodeError becomes its problem."""
    problems = {}
    for name, check in checks.items():
        try:
            check()
        except NodeError as exc:
            problems[name] = exc.message
    return problems


# --- schema_validator --------------------------------------------------------------------------


def _json_schema_validator(schema: Any) -> Any:
    """A validator for `schema`: the draft its `$schema` names, Draft 2020-12 without one; `format`
    is checked, not only annotated. References to other documents are not fetched."""
    from jsonschema import Draft202012Validator, exceptions, validators  # noqa: PLC0415 - imported when used

    if not isinstance(schema, dict | bool):
        raise NodeError("invalid_schema", "The schema must be a JSON Schema object.")
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # boolean schemas are valid; the stubs type objects only
    except exceptions.SchemaError as exc:
        where = _pointer(exc.absolute_path) or "the schema's root"
        raise NodeError("invalid_schema", f"Not a valid JSON Schema at {where}: {exc.message}") from exc
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _pointer(path: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) to a place in a document; the empty string is the whole of it."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _schema_problem(error: Any) -> dict[str, str]:
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return {"path": _pointer(error.absolute_path), "message": message}


def _validation_summary(invalid: list[dict[str, Any]], total: int) -> str:
    listed = [
        f"record {entry['index']}"
        + (f" at {problem['path']}" if problem["path"] else "")
        + f": {problem['message']}"
        for entry in invalid[:MAX_LISTED_PROBLEMS]
        for problem in entry["errors"][:1]
    ]
    more = "; ..." if len(invalid) > MAX_LISTED_PROBLEMS else ""
    return f"{len(invalid)} of {total} records do not match the schema: {'; '.join(listed)}{more}"


# --- data_normalizer ---------------------------------------------------------------------------

_CASE_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[\W_]+")


def _case(name: str, key_case: str) -> str:
    """`firstName`, `First Name`, `first-name` and `FIRST_NAME` are all `first_name` in snake case."""
    if key_case == "lower":
        return name.lower()
    if key_case == "snake":
        return _NOT_WORD.sub("_", _CASE_BOUNDARY.sub("_", name)).strip("_").lower() or name.lower()
    return name


def _normalised_record(
    record: dict[str, Any], index: int, rename: Mapping[str, str], key_case: str, trim: bool
) -> dict[str, Any]:
    normalised: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in record.items():
        new_name = _case(rename.get(name, name), key_case)
        if new_name in normalised:
            raise NodeError(
                "key_collision",
                f"Record {index}: fields {sources[new_name]!r} and {name!r} both become {new_name!r}.",
            )
        sources[new_name] = name
        normalised[new_name] = value.strip() if trim and isinstance(value, str) else value
    return normalised


# Numeric dates: year first (2024/04/23, 2024.04.23) or last (23/04/2024, 04-23-2024), optional time.
_TIME = r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
_YEAR_FIRST = re.compile(r"(?P<year>\d{4})[/.](?P<a>\d{1,2})[/.](?P<b>\d{1,2})" + _TIME)
_YEAR_LAST = re.compile(r"(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<year>\d{4})" + _TIME)
_NAMED_MONTH_FORMATS = (
    "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y",
    "%d %b %Y %H:%M", "%d %b %Y %H:%M:%S",
)  # fmt: skip
_MILLISECONDS_FROM = 100_000_000_000  # a larger timestamp counts milliseconds (after 1973 in ms)


def _rewrite_dates(records: list[dict[str, Any]], name: str) -> None:
    """Rewrite field `name` of every record as ISO 8601 (a date, or a date and time); an empty
    string becomes null; a value that is not a date fails the node, listing the first ones."""
    day_first = _day_first(record.get(name) for record in records)
    bad = []
    for index, record in enumerate(records):
        if record.get(name) is None:
            continue
        try:
            record[name] = _iso_date(record[name], day_first=day_first)
        except (ValueError, OverflowError, OSError):
            bad.append(f"record {index}: {record[name]!r}")
    if bad:
        listed = "; ".join(bad[:MAX_LISTED_PROBLEMS]) + ("; ..." if len(bad) > MAX_LISTED_PROBLEMS else "")
        raise NodeError("invalid_date", f"{len(bad)} values of {name!r} are not dates: {listed}.")


def _day_first(values: Iterable[Any]) -> bool:
    """Whether the field's numeric dates with the year last are day first (23/04/2024), the reading
    unless one of its values can only be month first (04/23/2024); a field showing both fails."""
    day_first = month_first = False
    for value in values:
        match = _YEAR_LAST.fullmatch(value.strip()) if isinstance(value, str) else None
        if match:
            day_first |= int(match["a"]) > 12
            month_first |= int(match["b"]) > 12
    if day_first and month_first:
        raise NodeError("invalid_date", "The field mixes day-first (23/04) and month-first (04/23) dates.")
    return not month_first


def _iso_date(value: Any, *, day_first: bool) -> str | None:
    """One value as ISO 8601; ValueError when it is not a date. Numbers are Unix timestamps (UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip()
    if not text:
        return None
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text).isoformat()
        except ValueError:
            pass
    numeric = _numeric_date(text, day_first=day_first)
    return numeric if numeric is not None else _named_month_date(text)


def _numeric_date(text: str, *, day_first: bool) -> str | None:
    match = _YEAR_FIRST.fullmatch(text)
    if match:
        month, day = int(match["a"]), int(match["b"])
    else:
        match = _YEAR_LAST.fullmatch(text)
        if not match:
            return None
        day, month = (int(match["a"]), int(match["b"])) if day_first else (int(match["b"]), int(match["a"]))
    if match["hour"] is None:
        return date(int(match["year"]), month, day).isoformat()
    clock = (int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    return datetime(int(match["year"]), month, day, *clock).isoformat()


def _named_month_date(text: str) -> str:
    from email.utils import parsedate_to_datetime  # noqa: PLC0415 - RFC 2822 dates are rare

    for pattern in _NAMED_MONTH_FORMATS:
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.isoformat() if "%H" in pattern else parsed.date().isoformat()
    return parsedate_to_datetime(text).isoformat()  # "Tue, 23 Apr 2024 10:00:00 +0000"; else ValueError


# --- deduplicator ------------------------------------------------------------------------------


def _key_fields(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise NodeError("invalid_config", "key_fields must be a non-empty list of field names.")
    return value


def _record_key(record: dict[str, Any], key_fields: list[str], case_sensitive: bool) -> str:
    """The record's key as JSON text, so 1, 1.0, "1" and true stay four keys; a missing field is
    null; without case sensitivity strings compare case-folded."""
    values = [record.get(name) for name in key_fields]
    if not case_sensitive:
        values = [value.casefold() if isinstance(value, str) else value for value in values]
    return json.dumps(values, sort_keys=True, default=str)


# --- filter_rows and json_transform ------------------------------------------------------------


def _sql_expression(value: Any) -> str:
    """The expression, checked to be one SQL expression (not a statement, not a query's tail)."""
    import duckdb  # noqa: PLC0415 - imported when used

    if not isinstance(value, str) or not value.strip():
        raise NodeError("invalid_expression", "The expression is empty; for example amount > 100.")
    try:
        duckdb.SQLExpression(value)
    except duckdb.Error as exc:
        raise NodeError("invalid_expression", f"{value!r}: {exc}") from exc
    return value


def _unused_name(names: list[str]) -> str:
    name = "__dagy_row"
    while name in names:
        name += "_"
    return name


def _jmespath(value: Any) -> Any:
    import jmespath  # noqa: PLC0415 - imported when used

    if not isinstance(value, str) or not value.strip():
        raise NodeError("invalid_expression", "The expression is empty; for example items[].name.")
    try:
        return jmespath.compile(value)
    except jmespath.exceptions.JMESPathError as exc:
        raise NodeError("invalid_expression", f"{value!r}: {exc}") from exc
