"""The transform node types on realistic records, and the errors a flow author reads."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.nodes.base import NodeError
from dagy.nodes.transform import (
    DataNormalizerNode,
    DeduplicatorNode,
    FilterRowsNode,
    JsonTransformNode,
    SchemaValidatorNode,
)
from dagy.server.settings import Settings
from tests.factories import new_org
from tests.flow_factories import register_flow, spec, trigger, wait_for_run
from tests.nodes.conftest import MakeContext

ORDERS = [
    {"id": "A-1", "amount": 120.5, "country": "FR", "address": {"city": "Lyon"}, "email": "ana@shop.fr"},
    {"id": "A-2", "amount": 80, "country": "FR", "address": {"city": "Paris"}, "email": "bo@shop.fr"},
    {"id": "A-3", "amount": 310.25, "country": "DE", "address": {"city": "Berlin"}, "email": "cy@shop.de"},
    {"id": "A-4", "amount": None, "country": "FR", "address": {"city": "Lyon"}, "email": "di@shop.fr"},
    {"id": "A-5", "amount": 990, "country": "FR", "address": {"city": "Nice"}, "email": "ed@shop.fr"},
]

ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "amount", "email"],
    "properties": {
        "id": {"type": "string", "pattern": "^A-[0-9]+$"},
        "amount": {"type": "number", "minimum": 0},
        "email": {"type": "string", "format": "email"},
        "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}


def error_of(call: Any) -> NodeError:
    with pytest.raises(NodeError) as caught:
        call()
    return caught.value


# --- schema_validator --------------------------------------------------------------------------

INCOMING = [
    {"id": "A-1", "amount": 12.5, "email": "ana@shop.fr", "lines": [{"sku": "X"}]},
    {"id": "B-2", "amount": -3, "email": "bo@shop.fr"},
    {"id": "A-3", "amount": 7, "email": "cy@shop.fr", "lines": [{"sku": "Y"}, {"qty": 2}]},
    {"id": "A-4", "email": "not an email"},
    {"id": "A-5", "amount": 0, "email": "ed@shop.fr"},
]


def test_schema_validator_routes_valid_and_invalid_records_apart(make_context: MakeContext) -> None:
    out = SchemaValidatorNode().run({"orders": INCOMING}, {"schema": ORDER_SCHEMA}, make_context()).values
    assert out["data_out"] == [INCOMING[0], INCOMING[4]]
    assert [(entry["index"], entry["record"]) for entry in out["invalid_out"]] == [
        (1, INCOMING[1]),
        (2, INCOMING[2]),
        (3, INCOMING[3]),
    ]
    problems = {entry["index"]: entry["errors"] for entry in out["invalid_out"]}
    assert [problem["path"] for problem in problems[1]] == ["/amount", "/id"]
    assert problems[2] == [{"path": "/lines/1", "message": "'sku' is a required property"}]
    assert {problem["message"] for problem in problems[3]} == {
        "'amount' is a required property",
        "'not an email' is not a 'email'",
    }


def test_schema_validator_drops_or_fails_on_invalid_records(make_context: MakeContext) -> None:
    dropped = SchemaValidatorNode().run(
        {"orders": INCOMING}, {"schema": ORDER_SCHEMA, "on_invalid": "drop"}, make_context()
    )
    assert dropped == [INCOMING[0], INCOMING[4]]
    config = {"schema": ORDER_SCHEMA, "on_invalid": "fail"}
    error = error_of(lambda: SchemaValidatorNode().run({"orders": INCOMING}, config, make_context()))
    assert error.error_type == "validation_failed"
    assert error.message.startswith("3 of 5 records do not match the schema: record 1 at /amount: -3 is less")
    assert "record 2 at /lines/1: 'sku' is a required property" in error.message
    assert SchemaValidatorNode().run({"orders": INCOMING[:1]}, config, make_context()) == INCOMING[:1]


def test_schema_validator_honours_the_declared_draft(make_context: MakeContext) -> None:
    # Draft 2020-12 reads a tuple as prefixItems; draft-07 as items with additionalItems.
    draft_07 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "items": [{"type": "string"}],
        "additionalItems": False,
    }
    pairs = {"pairs": [["a"], ["a", "b"], [1]]}
    out = SchemaValidatorNode().run(pairs, {"schema": draft_07}, make_context()).values
    assert out["data_out"] == [["a"]]
    assert [entry["index"] for entry in out["invalid_out"]] == [1, 2]
    single = SchemaValidatorNode().run(
        {"config": {"id": "A-9"}}, {"schema": {"required": ["id"]}}, make_context()
    )
    assert single.values == {"data_out": [{"id": "A-9"}], "invalid_out": []}


def test_an_invalid_schema_is_refused_at_registration_and_at_run_time(make_context: MakeContext) -> None:
    schema = {"type": "object", "properties": {"amount": {"type": "money"}}}
    problems = SchemaValidatorNode.validate({"schema": schema})
    assert set(problems) == {"schema"} and "/properties/amount/type" in problems["schema"]
    assert SchemaValidatorNode.validate({"schema": ORDER_SCHEMA}) == {}
    error = error_of(lambda: SchemaValidatorNode().run({"o": INCOMING}, {"schema": schema}, make_context()))
    assert error.error_type == "invalid_schema"


# --- data_normalizer ---------------------------------------------------------------------------

CRM_EXPORT = [
    {
        "Customer ID": " C-001 ",
        "firstName": "  Ana ",
        "Signup Date": "2024-04-23",
        "Last-Order": "23/04/2024 10:30",
        "Notes": None,
    },
    {
        "Customer ID": "C-002",
        "firstName": "Bo",
        "Signup Date": "Apr 5, 2024",
        "Last-Order": "05.05.2024",
        "Notes": " vip ",
    },
    {"Customer ID": "C-003", "firstName": "Cy", "Signup Date": "2024/06/30", "Last-Order": "", "Notes": None},
    {
        "Customer ID": "C-004",
        "firstName": "Di",
        "Signup Date": 1714000000,
        "Last-Order": "2024-05-01T08:00:00Z",
        "Notes": "",
    },
]


def test_data_normalizer_renames_cases_trims_rewrites_dates_and_drops_nulls(
    make_context: MakeContext,
) -> None:
    config = {
        "rename": {"Customer ID": "customer_id"},
        "key_case": "snake",
        "date_fields": ["signup_date", "last_order"],
        "drop_nulls": True,
    }
    out = DataNormalizerNode().run({"crm": CRM_EXPORT}, config, make_context())
    assert out == [
        {
            "customer_id": "C-001",
            "first_name": "Ana",
            "signup_date": "2024-04-23",
            "last_order": "2024-04-23T10:30:00",
        },
        {
            "customer_id": "C-002",
            "first_name": "Bo",
            "signup_date": "2024-04-05",
            "last_order": "2024-05-05",
            "notes": "vip",
        },
        {"customer_id": "C-003", "first_name": "Cy", "signup_date": "2024-06-30"},
        {
            "customer_id": "C-004",
            "first_name": "Di",
            "signup_date": "2024-04-24T23:06:40+00:00",
            "last_order": "2024-05-01T08:00:00+00:00",
            "notes": "",
        },
    ]
    assert CRM_EXPORT[0]["firstName"] == "  Ana ", "the input is left as it was"


def test_data_normalizer_defaults_trim_and_keep_keys(make_context: MakeContext) -> None:
    out = DataNormalizerNode().run({"crm": CRM_EXPORT[:1]}, {"key_case": "lower"}, make_context())
    assert out == [
        {
            "customer id": "C-001",
            "firstname": "Ana",
            "signup date": "2024-04-23",
            "last-order": "23/04/2024 10:30",
            "notes": None,
        }
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["04/23/2024", "05/01/2024"], ["2024-04-23", "2024-05-01"]),  # 23 can only be a day: month first
        (["23/04/2024", "05/01/2024"], ["2024-04-23", "2024-01-05"]),
        (["05/01/2024"], ["2024-01-05"]),  # undecided: day first
        (["1 March 2024", "Tue, 23 Apr 2024 10:00:00 +0200"], ["2024-03-01", "2024-04-23T10:00:00+02:00"]),
        ([1714000000123, "20240423"], ["2024-04-24T23:06:40.123000+00:00", "2024-04-23"]),
    ],
)
def test_dates_in_common_formats_become_iso_8601(
    make_context: MakeContext, values: list[Any], expected: list[str]
) -> None:
    records = [{"day": value} for value in values]
    out = DataNormalizerNode().run({"r": records}, {"date_fields": ["day"]}, make_context())
    assert [record["day"] for record in out] == expected


def test_values_that_are_not_dates_fail_naming_them(make_context: MakeContext) -> None:
    records = [{"day": "2024-02-30"}, {"day": "2024-03-01"}, {"day": "soon"}, {"day": True}]
    error = error_of(
        lambda: DataNormalizerNode().run({"r": records}, {"date_fields": ["day"]}, make_context())
    )
    assert error.error_type == "invalid_date"
    assert (
        error.message
        == "3 values of 'day' are not dates: record 0: '2024-02-30'; record 2: 'soon'; record 3: True."
    )
    mixed = [{"day": "23/04/2024"}, {"day": "04/23/2024"}]
    error = error_of(lambda: DataNormalizerNode().run({"r": mixed}, {"date_fields": ["day"]}, make_context()))
    assert error.error_type == "invalid_date" and "day-first" in error.message


def test_fields_that_collide_after_renaming_are_an_error(make_context: MakeContext) -> None:
    records = [{"Email": "a@x.fr", "email": "b@x.fr"}]
    error = error_of(lambda: DataNormalizerNode().run({"r": records}, {"key_case": "lower"}, make_context()))
    assert error.error_type == "key_collision" and "'Email' and 'email'" in error.message


# --- deduplicator ------------------------------------------------------------------------------

CONTACTS = [
    {"email": "Ana@Shop.fr", "country": "FR", "seen": 1},
    {"email": "bo@shop.fr", "country": "FR", "seen": 2},
    {"email": "ana@shop.fr", "country": "FR", "seen": 3},
    {"email": "bo@shop.fr", "country": "DE", "seen": 4},
    {"email": "bo@shop.fr", "country": "FR", "seen": 5},
]


@pytest.mark.parametrize(
    ("config", "seen"),
    [
        ({"key_fields": ["email"]}, [1, 2, 3]),
        ({"key_fields": ["email"], "keep": "last"}, [1, 3, 5]),
        ({"key_fields": ["email"], "case_sensitive": False}, [1, 2]),
        ({"key_fields": ["email"], "case_sensitive": False, "keep": "last"}, [3, 5]),
        ({"key_fields": ["email", "country"], "keep": "last"}, [1, 3, 4, 5]),
    ],
)
def test_deduplicator_keeps_one_record_per_key_in_input_order(
    make_context: MakeContext, config: dict[str, Any], seen: list[int]
) -> None:
    out = DeduplicatorNode().run({"contacts": CONTACTS}, config, make_context())
    assert [record["seen"] for record in out] == seen


def test_keys_of_different_types_differ_and_missing_fields_match(make_context: MakeContext) -> None:
    records = [
        {"k": 1},
        {"k": "1"},
        {"k": True},
        {"k": 1.5},
        {"k": 1},
        {"other": 1},
        {"k": None},
        {"k": {"a": 1}},
    ]
    out = DeduplicatorNode().run({"r": records}, {"key_fields": ["k"]}, make_context())
    assert out == [{"k": 1}, {"k": "1"}, {"k": True}, {"k": 1.5}, {"other": 1}, {"k": {"a": 1}}]


def test_key_fields_must_name_fields(make_context: MakeContext) -> None:
    assert set(DeduplicatorNode.validate({"key_fields": []})) == {"key_fields"}
    assert DeduplicatorNode.validate({"key_fields": ["email"]}) == {}
    error = error_of(lambda: DeduplicatorNode().run({"r": CONTACTS}, {"key_fields": [1]}, make_context()))
    assert error.error_type == "invalid_config"


# --- filter_rows -------------------------------------------------------------------------------


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


@pytest.mark.parametrize(
    ("expression", "mode", "expected"),
    [
        ("amount > 100 AND country = 'FR'", "keep", ["A-1", "A-5"]),
        ("amount > 100 AND country = 'FR'", "drop", ["A-2", "A-3", "A-4"]),
        ("amount IS NULL OR address.city = 'Berlin'", "keep", ["A-3", "A-4"]),
        ("amount < 100", "drop", ["A-1", "A-3", "A-4", "A-5"]),  # null is not true: kept by drop
        ("email LIKE '%@shop.fr' AND amount BETWEEN 50 AND 200", "keep", ["A-1", "A-2"]),
        ("regexp_matches(id, 'A-[35]')", "keep", ["A-3", "A-5"]),
    ],
)
def test_filter_rows_evaluates_sql_over_the_records(
    make_context: MakeContext, expression: str, mode: str, expected: list[str]
) -> None:
    out = FilterRowsNode().run({"orders": ORDERS}, {"expression": expression, "mode": mode}, make_context())
    assert ids(out) == expected
    assert all(record is next(o for o in ORDERS if o["id"] == record["id"]) for record in out)


def test_filter_rows_takes_fields_missing_from_some_records_and_mixed_types(
    make_context: MakeContext,
) -> None:
    records = [
        {"id": "A-1"},
        {"id": "A-2", "vip": True},
        {"id": "A-3", "code": 7},
        {"id": "A-4", "code": "7b"},
    ]
    assert ids(FilterRowsNode().run({"r": records}, {"expression": "vip"}, make_context())) == ["A-2"]
    # A field mixing numbers and strings is compared as text.
    assert ids(FilterRowsNode().run({"r": records}, {"expression": "code LIKE '7%'"}, make_context())) == [
        "A-3",
        "A-4",
    ]
    assert FilterRowsNode().run({"r": []}, {"expression": "amount > 1"}, make_context()) == []


def test_filter_rows_reads_several_upstreams_in_edge_order(make_context: MakeContext) -> None:
    inputs = {"de": [ORDERS[2]], "fr": [ORDERS[0], ORDERS[4]]}
    assert ids(FilterRowsNode().run(inputs, {"expression": "amount > 100"}, make_context())) == [
        "A-3",
        "A-1",
        "A-5",
    ]


def test_csv_strings_compare_as_numbers_once_cast(make_context: MakeContext) -> None:
    rows = [{"id": "A-1", "amount": "150"}, {"id": "A-2", "amount": "99.5"}]
    error = error_of(
        lambda: FilterRowsNode().run({"csv": rows}, {"expression": "amount > 100"}, make_context())
    )
    assert error.error_type == "invalid_expression" and "cast" in error.message
    out = FilterRowsNode().run({"csv": rows}, {"expression": "CAST(amount AS DOUBLE) > 100"}, make_context())
    assert ids(out) == ["A-1"]


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("amount >", "syntax error"),
        ("nope > 1", 'Referenced column "nope" not found'),
        ("true) UNION SELECT 42 --", "syntax error"),
        ("(SELECT count(*) FROM read_text('/etc/passwd')) > 0", "disabled by configuration"),
        ("", "empty"),
    ],
)
def test_a_bad_expression_is_named_with_duckdbs_message(
    make_context: MakeContext, expression: str, says: str
) -> None:
    error = error_of(lambda: FilterRowsNode().run({"o": ORDERS}, {"expression": expression}, make_context()))
    assert error.error_type == "invalid_expression" and says in error.message


def test_filter_rows_checks_the_expression_at_registration() -> None:
    assert "syntax error" in FilterRowsNode.validate({"expression": "amount >"})["expression"]
    assert FilterRowsNode.validate({"expression": "amount > 100"}) == {}


def test_transforms_refuse_what_is_not_records(make_context: MakeContext) -> None:
    error = error_of(
        lambda: FilterRowsNode().run({"o": [ORDERS[0], 3]}, {"expression": "true"}, make_context())
    )
    assert error.error_type == "invalid_input" and "item 1 is a number" in error.message
    error = error_of(lambda: DeduplicatorNode().run({"o": "text"}, {"key_fields": ["id"]}, make_context()))
    assert error.error_type == "invalid_input"


# --- json_transform ----------------------------------------------------------------------------


def test_json_transform_reshapes_with_jmespath(make_context: MakeContext) -> None:
    payload = {"data": {"orders": ORDERS}, "page": 1}
    expression = "data.orders[?amount > `100`].{id: id, city: address.city}"
    out = JsonTransformNode().run({"api": payload}, {"expression": expression}, make_context())
    assert out == [
        {"id": "A-1", "city": "Lyon"},
        {"id": "A-3", "city": "Berlin"},
        {"id": "A-5", "city": "Nice"},
    ]
    both = JsonTransformNode().run({"a": ORDERS[:2], "b": ORDERS[2]}, {"expression": "[].id"}, make_context())
    assert both == ["A-1", "A-2", "A-3"]
    assert JsonTransformNode().run({"api": payload}, {"expression": "missing.field"}, make_context()) is None


def test_a_bad_jmespath_expression_is_refused(make_context: MakeContext) -> None:
    assert "expression" in JsonTransformNode.validate({"expression": "data.[orders"})
    error = error_of(
        lambda: JsonTransformNode().run({"a": {}}, {"expression": "data.[orders"}, make_context())
    )
    assert error.error_type == "invalid_expression"
    wrong_type = error_of(
        lambda: JsonTransformNode().run({"a": {"n": "x"}}, {"expression": "abs(n)"}, make_context())
    )
    assert wrong_type.error_type == "invalid_expression" and "abs" in wrong_type.message


# --- in a run ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_flow_reads_the_org_store_filters_and_deduplicates_on_the_embedded_worker(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    csv_file = settings.home / "objects" / "dagy" / "data" / owner.org_id / "crm" / "contacts.csv"
    csv_file.parent.mkdir(parents=True, exist_ok=True)
    csv_file.write_text("email,country,spend\nana@shop.fr,FR,120\nbo@shop.fr,DE,80\nANA@shop.fr,FR,300\n")
    flow = register_flow(
        client,
        owner,
        spec(
            {"id": "read", "type": "file_read", "data": {"path": "crm/contacts.csv", "format": "csv"}},
            {"id": "big", "type": "filter_rows", "data": {"expression": "CAST(spend AS INTEGER) >= 100"}},
            {
                "id": "unique",
                "type": "deduplicator",
                "data": {"key_fields": ["email"], "case_sensitive": False},
            },
            edges=(("read", "big"), ("big", "unique")),
        ),
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert run["status"] == "completed", run["error"]
    assert run["output"] == [{"email": "ana@shop.fr", "country": "FR", "spend": "120"}]
