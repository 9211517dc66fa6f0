"""`/channels` and `/alert-rules` through HTTP: validation per channel type, the SSRF guard at
creation, masked credentials, org scoping, PATCH, deleting a channel in use, and a rule's test."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Caller, new_org, unique
from tests.server.alert_peers import receiving

pytestmark = pytest.mark.settings(allow_private_network=True)

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


def channel(
    client: TestClient, caller: Caller, channel_type: str, config: dict[str, Any], **extra: Any
) -> Any:
    body = {"name": unique("ch"), "channel_type": channel_type, "config_json": config, **extra}
    return client.post("/v1/channels", headers=caller.headers, json=body)


def channel_id(client: TestClient, caller: Caller, channel_type: str, config: dict[str, Any]) -> str:
    response = channel(client, caller, channel_type, config)
    assert response.status_code == 201, response.text
    return str(response.json()["channel_id"])


def rule(client: TestClient, caller: Caller, channel_ids: list[str], **extra: Any) -> Any:
    body = {"name": unique("rule"), "trigger": "on_failure", "channel_ids": channel_ids, **extra}
    return client.post("/v1/alert-rules", headers=caller.headers, json=body)


def test_a_slack_channel_is_created_listed_and_read_with_its_url_masked(
    client: TestClient, owner: Caller
) -> None:
    created = channel(client, owner, "slack", {"webhook_url": SLACK_URL, "channel": "#alerts"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"channel_id", "name", "channel_type", "enabled", "created_at"}
    assert (body["channel_type"], body["enabled"]) == ("slack", True)
    read = client.get(f"/v1/channels/{body['channel_id']}", headers=owner.headers).json()
    assert read["config_json"] == {"webhook_url": "https://hooks.slack.com/********", "channel": "#alerts"}
    listed = client.get("/v1/channels", headers=owner.headers).json()
    assert [c["channel_id"] for c in listed["items"]] == [body["channel_id"]]
    assert set(listed["items"][0]) == set(body)


def test_credentials_of_every_type_are_masked(client: TestClient, owner: Caller) -> None:
    cases = {
        "webhook": (
            {"url": "https://example.com/hook", "secret": "s3cret", "headers": {"X-Token": "abc"}},
            {"url": "https://example.com/hook", "secret": "********", "headers": {"X-Token": "********"}},
        ),
        "pagerduty": ({"routing_key": "R0UT1NG"}, {"routing_key": "********", "severity": "error"}),
        "email": (
            {"to": ["ops@example.com"], "smtp_host": "mail.example.com", "smtp_password": "pw"},
            {
                "to": ["ops@example.com"],
                "smtp_host": "mail.example.com",
                "smtp_password": "********",
                "smtp_port": 587,
            },
        ),
    }
    for channel_type, (config, shown) in cases.items():
        made = channel_id(client, owner, channel_type, config)
        read = client.get(f"/v1/channels/{made}", headers=owner.headers).json()
        assert read["config_json"] == shown, channel_type


@pytest.mark.parametrize(
    ("channel_type", "config", "field"),
    [
        ("slack", {}, "config_json.webhook_url"),
        ("slack", {"webhook_url": SLACK_URL, "colour": "red"}, "config_json.colour"),
        ("email", {"to": []}, "config_json.to"),
        ("email", {"to": ["not an address"]}, "config_json.to.0"),
        ("webhook", {"url": "https://example.com", "headers": {"Host": "x"}}, "config_json.headers"),
        ("webhook", {"url": "ftp://example.com/x"}, "config_json.url"),
        ("pagerduty", {"routing_key": "k", "severity": "loud"}, "config_json.severity"),
    ],
)
def test_an_invalid_config_is_400_naming_the_field(
    client: TestClient, owner: Caller, channel_type: str, config: dict[str, Any], field: str
) -> None:
    response = channel(client, owner, channel_type, config)
    assert response.status_code == 400, response.text
    assert field in response.json()["details"]


def test_bad_names_types_and_sizes_are_refused(client: TestClient, owner: Caller) -> None:
    long_name = {"name": "x" * 129, "channel_type": "slack", "config_json": {"webhook_url": SLACK_URL}}
    response = client.post("/v1/channels", headers=owner.headers, json=long_name)
    assert response.status_code == 400
    assert "name" in response.json()["details"]
    unknown = channel(client, owner, "carrier-pigeon", {})
    assert unknown.status_code == 400
    assert "channel_type" in unknown.json()["details"]
    big = channel(client, owner, "webhook", {"url": "https://example.com", "secret": "x" * 20_000})
    assert big.status_code == 400
    assert "config_json" in big.json()["details"]
    huge = client.post(
        "/v1/channels",
        headers={**owner.headers, "Content-Type": "application/json"},
        content=b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}',
    )
    assert huge.status_code == 413
    long_rule = rule(client, owner, ["channel_x"], name="r" * 129)
    assert long_rule.status_code == 400
    assert "name" in long_rule.json()["details"]


@pytest.mark.settings(allow_private_network=False)
@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("[::1]", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.1", "link-local"),
        ("metadata.google.internal", "metadata"),
        ("[::ffff:127.0.0.1]", "loopback"),
    ],
)
def test_the_ssrf_guard_refuses_private_addresses_in_every_spelling(
    client: TestClient, owner: Caller, host: str, kind: str
) -> None:
    response = channel(client, owner, "webhook", {"url": f"http://{host}:8080/hook"})
    assert response.status_code == 400, response.text
    reason = response.json()["details"]["config_json.url"]
    assert "SSRF" in reason
    assert kind in reason


@pytest.mark.settings(allow_private_network=False)
def test_slack_needs_https_and_pagerduty_overrides_are_guarded(client: TestClient, owner: Caller) -> None:
    plain = channel(client, owner, "slack", {"webhook_url": "http://hooks.slack.com/services/x"})
    assert plain.status_code == 400
    assert "https" in plain.json()["details"]["config_json.webhook_url"]
    pagerduty = channel(client, owner, "pagerduty", {"routing_key": "k", "events_url": "http://127.0.0.1/x"})
    assert pagerduty.status_code == 400
    assert "config_json.events_url" in pagerduty.json()["details"]
    smtp = channel(client, owner, "email", {"to": ["a@example.com"], "smtp_host": "127.0.0.1"})
    assert smtp.status_code == 400
    assert "config_json.smtp_host" in smtp.json()["details"]


def test_with_the_private_network_switch_on_slack_over_http_is_accepted(
    client: TestClient, owner: Caller
) -> None:
    assert channel(client, owner, "slack", {"webhook_url": "http://127.0.0.1:9/x"}).status_code == 201


def test_rules_are_created_listed_read_patched_and_deleted(client: TestClient, owner: Caller) -> None:
    first = channel_id(client, owner, "slack", {"webhook_url": SLACK_URL})
    second = channel_id(client, owner, "pagerduty", {"routing_key": "k"})
    created = rule(client, owner, [first], flow_name="my-flow")
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"rule_id", "name", "trigger", "flow_name", "channel_ids", "enabled", "created_at"}
    assert (body["trigger"], body["flow_name"], body["channel_ids"]) == ("on_failure", "my-flow", [first])
    rule_id = body["rule_id"]
    read = client.get(f"/v1/alert-rules/{rule_id}", headers=owner.headers).json()
    assert read["sla_seconds"] is None
    listed = client.get("/v1/alert-rules", headers=owner.headers).json()["items"]
    assert [(r["rule_id"], r["channel_ids"]) for r in listed] == [(rule_id, [first])]

    patch = {"enabled": False, "channel_ids": [second, first], "flow_name": None}
    patched = client.patch(f"/v1/alert-rules/{rule_id}", headers=owner.headers, json=patch)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["enabled"], patched.json()["channel_ids"]) == (False, [second, first])
    assert patched.json()["flow_name"] is None
    sla = client.patch(
        f"/v1/alert-rules/{rule_id}",
        headers=owner.headers,
        json={"trigger": "on_sla_breach", "sla_seconds": 60},
    )
    assert (sla.status_code, sla.json()["sla_seconds"]) == (200, 60)
    empty = client.patch(f"/v1/alert-rules/{rule_id}", headers=owner.headers, json={})
    assert empty.status_code == 400
    null_name = client.patch(f"/v1/alert-rules/{rule_id}", headers=owner.headers, json={"name": None})
    assert null_name.status_code == 400

    in_use = client.delete(f"/v1/channels/{first}", headers=owner.headers)
    assert in_use.status_code == 409
    assert in_use.json()["error"] == "channel_in_use"
    assert client.delete(f"/v1/alert-rules/{rule_id}", headers=owner.headers).status_code == 204
    assert client.get(f"/v1/alert-rules/{rule_id}", headers=owner.headers).status_code == 404
    assert client.delete(f"/v1/channels/{first}", headers=owner.headers).status_code == 204
    assert client.get(f"/v1/channels/{first}", headers=owner.headers).status_code == 404


def test_invalid_rules_are_400_naming_the_field(app: FastAPI, client: TestClient, owner: Caller) -> None:
    mine = channel_id(client, owner, "slack", {"webhook_url": SLACK_URL})
    other = new_org(app, client)
    theirs = channel_id(client, other, "slack", {"webhook_url": SLACK_URL})
    cases = [
        ({"channel_ids": [theirs]}, "channel_ids"),
        ({"channel_ids": ["channel_nope"]}, "channel_ids"),
        ({"channel_ids": [mine], "trigger": "on_start"}, "trigger"),
        ({"channel_ids": [mine], "trigger": "on_sla_breach"}, "sla_seconds"),
        ({"channel_ids": [mine], "sla_seconds": 30}, "sla_seconds"),
        ({"channel_ids": []}, "channel_ids"),
    ]
    for body, field in cases:
        response = rule(client, owner, **body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["details"], (body, response.json())


def test_another_orgs_channels_and_rules_are_404(app: FastAPI, client: TestClient, owner: Caller) -> None:
    mine = channel_id(client, owner, "slack", {"webhook_url": SLACK_URL})
    rule_id = rule(client, owner, [mine]).json()["rule_id"]
    other = new_org(app, client)
    for method, path in [
        ("GET", f"/v1/channels/{mine}"),
        ("PATCH", f"/v1/channels/{mine}"),
        ("DELETE", f"/v1/channels/{mine}"),
        ("GET", f"/v1/alert-rules/{rule_id}"),
        ("PATCH", f"/v1/alert-rules/{rule_id}"),
        ("DELETE", f"/v1/alert-rules/{rule_id}"),
        ("POST", f"/v1/alert-rules/{rule_id}/test"),
        ("GET", f"/v1/alert-rules/{rule_id}/deliveries"),
    ]:
        response = client.request(method, path, headers=other.headers, json={"enabled": False})
        assert response.status_code == 404, (method, path, response.text)
    assert client.get("/v1/channels", headers=other.headers).json()["items"] == []
    assert client.get("/v1/alert-rules", headers=other.headers).json()["items"] == []


def test_a_channel_is_patched_and_its_config_checked_again(client: TestClient, owner: Caller) -> None:
    made = channel_id(client, owner, "webhook", {"url": "https://example.com/a"})
    patched = client.patch(
        f"/v1/channels/{made}",
        headers=owner.headers,
        json={
            "enabled": False,
            "name": "renamed",
            "config_json": {"url": "https://example.com/b", "secret": "s"},
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["enabled"], body["name"]) == (False, "renamed")
    assert body["config_json"] == {"url": "https://example.com/b", "secret": "********", "headers": {}}
    bad = client.patch(f"/v1/channels/{made}", headers=owner.headers, json={"config_json": {"url": "nope"}})
    assert bad.status_code == 400
    assert "config_json.url" in bad.json()["details"]


def test_lists_page_with_a_token(client: TestClient, owner: Caller) -> None:
    made = [channel_id(client, owner, "slack", {"webhook_url": SLACK_URL}) for _ in range(3)]
    first = client.get("/v1/channels?limit=2", headers=owner.headers).json()
    assert [c["channel_id"] for c in first["items"]] == made[::-1][:2]
    rest = client.get(f"/v1/channels?limit=2&next_token={first['next_token']}", headers=owner.headers).json()
    assert [c["channel_id"] for c in rest["items"]] == made[:1]
    assert rest["next_token"] is None


def test_the_test_reports_each_channel(client: TestClient, owner: Caller) -> None:
    with receiving() as good, receiving(status=500, answer=b"down") as bad:
        hook = channel_id(client, owner, "webhook", {"url": f"{good.url}/hook", "secret": "k"})
        slack = channel_id(client, owner, "slack", {"webhook_url": f"{bad.url}/slack"})
        rule_id = rule(client, owner, [hook, slack]).json()["rule_id"]
        tested = client.post(f"/v1/alert-rules/{rule_id}/test", headers=owner.headers)
        assert tested.status_code == 200, tested.text
        body = tested.json()
        assert body["status"] == "partial"
        assert body["message"].startswith("Test notification sent to 1 channel")
        outcomes = {c["channel_id"]: (c["delivered"], c["error"]) for c in body["channels"]}
        assert outcomes[hook] == (True, None)
        assert outcomes[slack][0] is False
        assert "HTTP 500" in outcomes[slack][1]
        assert good.json_bodies()[0]["event"] == "test"
        assert len(bad.requests) == 1  # a test is not retried
