"""The notification nodes against real peers on loopback: the HTTP peer of tests/nodes/conftest.py
standing in for Slack, a webhook receiver and PagerDuty, and an aiosmtpd SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from dagy.nodes import HostSettings, NodeContext, NodeError
from dagy.nodes.notification import (
    EmailSendNode,
    PagerDutyAlertNode,
    SlackNotifyNode,
    WebhookPostNode,
    render_template,
)
from tests.nodes.conftest import HttpPeer
from tests.ports import free_port

# The test SMTP server takes a login without TLS: loopback has no certificate to offer.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

LOOPBACK = HostSettings(allow_private_network=True)
GUARDED = HostSettings(allow_private_network=False)


def context(settings: HostSettings = LOOPBACK, **params: Any) -> NodeContext:
    return NodeContext(
        run_id="run-7",
        node_id="tell",
        params=params,
        logger=logging.getLogger("tests.notification"),
        flow_name="nightly-report",
        settings=settings,
    )


# --- Answers of the loopback HTTP peer (tests/nodes/conftest.py) ---------------------------------


def answer(peer: HttpPeer, path: str, status: int, body: Any, content_type: str = "application/json") -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    peer.routes[path] = lambda _handler, _body: (status, {"Content-Type": content_type}, data)


def sent(peer: HttpPeer) -> Any:
    """The JSON body of the one request the peer received."""
    (request,) = peer.requests
    return json.loads(request["body"])


# --- The template rule ----------------------------------------------------------------------------


def test_a_template_fills_every_placeholder() -> None:
    ctx = context(region="eu", limits={"rows": [10, 20]})
    text = render_template(
        "{flow_name}/{node_id} run {run_id}: {input} | {input[count]} {params[region]} "
        "{params[limits][rows][1]} {{literal}}",
        ctx,
        {"count": 3, "name": "ß"},
    )
    assert text == 'nightly-report/tell run run-7: {"count":3,"name":"ß"} | 3 eu 20 {literal}'
    assert render_template("got {input}", ctx, "plain text") == "got plain text"
    assert render_template("got {input}", ctx, None) == "got null"


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("hello {name}", "Unknown placeholder {name}"),
        ("{run_id[0]}", "Unknown placeholder {run_id[0]}"),
        ("{input.__class__}", "Unknown placeholder"),
        ('{"a": 1}', "Unknown placeholder"),
        ("open { only", "Unmatched '{' at character 6"),
        ("close } only", "Unmatched '}'"),
        ("{params[missing]}", "params has no 'missing'"),
        ("{input[rows][5]}", "input[rows] has no '5'"),
    ],
)
def test_a_bad_template_fails_as_invalid_template(template: str, complaint: str) -> None:
    with pytest.raises(NodeError) as failure:
        render_template(template, context(), {"rows": [1]})
    assert failure.value.error_type == "invalid_template"
    assert complaint in failure.value.message


def test_validation_reports_a_bad_template_in_the_field_it_is_in() -> None:
    problems = PagerDutyAlertNode.validate({"routing_key": "k", "summary": "ok", "dedup_key": "{nope}"})
    assert problems == {"dedup_key": problems["dedup_key"]}
    assert "Unknown placeholder {nope}" in problems["dedup_key"]
    assert SlackNotifyNode.validate({"webhook_url": "u", "message": "{input[a]} {{x}}"}) == {}


# --- Slack ----------------------------------------------------------------------------------------


def test_slack_posts_the_rendered_message(http_peer: HttpPeer) -> None:
    config = {
        "webhook_url": f"{http_peer.url}/services/T0/B0/secret",
        "message": "{flow_name} found {input[count]} rows",
        "channel": "#data",
        "username": "Dagy",
    }
    answer(http_peer, "/services/T0/B0/secret", 200, b"ok", "text/plain")
    output = SlackNotifyNode().run({"load": {"count": 12}}, config, context())
    assert output == {"delivered": True, "status": 200}
    assert sent(http_peer) == {"text": "nightly-report found 12 rows", "channel": "#data", "username": "Dagy"}


def test_slack_refusing_the_message_fails_with_its_answer(http_peer: HttpPeer) -> None:
    answer(http_peer, "/services/gone", 404, b"no_service", "text/html")
    config = {"webhook_url": f"{http_peer.url}/services/gone", "message": "hi"}
    with pytest.raises(NodeError) as failure:
        SlackNotifyNode().run({}, config, context())
    assert failure.value.error_type == "delivery_failed"
    assert failure.value.message == "Slack answered 404: no_service"
    assert "/services/gone" not in failure.value.message  # the webhook URL is a secret


def test_slack_to_loopback_is_refused_by_the_ssrf_guard(http_peer: HttpPeer) -> None:
    config = {"webhook_url": f"{http_peer.url}/hook", "message": "hi"}
    with pytest.raises(NodeError) as failure:
        SlackNotifyNode().run({}, config, context(GUARDED))
    assert failure.value.error_type == "blocked_url"
    assert "127.0.0.1" in failure.value.message
    assert http_peer.requests == []


# --- Webhooks -------------------------------------------------------------------------------------


def verify_dagy_signature(header: str, body: bytes, secret: str, tolerance_seconds: int = 300) -> bool:
    """What a receiver does, as docs/node-types/notification-custom.md says."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - timestamp) <= tolerance_seconds
    return fresh and hmac.compare_digest(expected, parts["v1"])


def test_a_webhook_gets_the_input_signed_with_its_token_and_headers(http_peer: HttpPeer) -> None:
    answer(http_peer, "/hooks/dagy", 201, {"id": "evt_1", "accepted": True})
    config = {
        "url": f"{http_peer.url}/hooks/dagy",
        "headers": {"X-Team": "data"},
        "auth_token": "tok-123",
        "signing_secret": "whsec-abc",
    }
    rows = [{"id": 1, "name": "Zoë"}, {"id": 2, "name": "Li"}]
    output = WebhookPostNode().run({"clean": rows}, config, context())
    assert output == {"delivered": True, "status": 201, "response": {"id": "evt_1", "accepted": True}}
    assert sent(http_peer) == rows
    (request,) = http_peer.requests
    headers, body = request["headers"], request["body"]
    assert request["method"] == "POST"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["X-Team"] == "data"
    assert verify_dagy_signature(headers["X-Dagy-Signature"], body, "whsec-abc")
    assert not verify_dagy_signature(headers["X-Dagy-Signature"], body, "other-secret")
    assert not verify_dagy_signature(headers["X-Dagy-Signature"], body + b" ", "whsec-abc")


def test_a_webhook_sends_its_payload_instead_and_keeps_a_text_answer_short(http_peer: HttpPeer) -> None:
    answer(http_peer, "/put", 200, b"x" * 20_000, "text/plain")
    config = {"url": f"{http_peer.url}/put", "method": "PUT", "payload": {"status": "done"}}
    output = WebhookPostNode().run({"a": 1, "b": 2}, config, context())
    assert sent(http_peer) == {"status": "done"}
    (request,) = http_peer.requests
    assert request["method"] == "PUT"
    assert "X-Dagy-Signature" not in request["headers"] and "Authorization" not in request["headers"]
    assert output["response"].startswith("x" * 10 * 1024) and len(output["response"]) < 10 * 1024 + 20


def test_a_webhook_answering_an_error_fails_the_node(http_peer: HttpPeer) -> None:
    answer(http_peer, "/hook", 500, {"error": "boom"})
    with pytest.raises(NodeError) as failure:
        WebhookPostNode().run({}, {"url": f"{http_peer.url}/hook"}, context())
    assert failure.value.error_type == "delivery_failed"
    assert failure.value.message == 'The webhook answered 500: {"error": "boom"}'


def test_a_webhook_to_loopback_is_refused_by_the_ssrf_guard(http_peer: HttpPeer) -> None:
    with pytest.raises(NodeError) as failure:
        WebhookPostNode().run({}, {"url": f"{http_peer.url}/hook"}, context(GUARDED))
    assert failure.value.error_type == "blocked_url"
    assert http_peer.requests == []


def test_a_webhook_that_cannot_be_reached_fails_the_node() -> None:
    port = free_port()  # a port nothing listens on
    with pytest.raises(NodeError) as failure:
        WebhookPostNode().run({}, {"url": f"http://127.0.0.1:{port}/"}, context())
    assert failure.value.error_type == "delivery_failed"
    assert failure.value.message.startswith("The webhook could not be reached")


# --- PagerDuty ------------------------------------------------------------------------------------


def test_pagerduty_triggers_an_incident_with_the_input_as_details(http_peer: HttpPeer) -> None:
    accepted = {"status": "success", "message": "Event processed", "dedup_key": "pd-generated-1"}
    answer(http_peer, "/v2/enqueue", 202, accepted)
    config = {
        "routing_key": "R0UT1NGKEY",
        "summary": "{flow_name}: {input[failed]} rows failed",
        "severity": "critical",
        "source": "etl-host",
        "events_url": f"{http_peer.url}/v2/enqueue",
    }
    output = PagerDutyAlertNode().run({"check": {"failed": 4}}, config, context())
    assert output == {"delivered": True, "status": 202, "dedup_key": "pd-generated-1"}
    assert sent(http_peer) == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "trigger",
        "payload": {
            "summary": "nightly-report: 4 rows failed",
            "source": "etl-host",
            "severity": "critical",
            "custom_details": {"failed": 4},
        },
    }


def test_pagerduty_resolves_an_incident_by_its_dedup_key(http_peer: HttpPeer) -> None:
    answer(
        http_peer,
        "/v2/enqueue",
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "db-eu"},
    )
    config = {
        "routing_key": "R0UT1NGKEY",
        "summary": "resolved",
        "event_action": "resolve",
        "dedup_key": "db-{params[region]}",
        "events_url": f"{http_peer.url}/v2/enqueue",
    }
    output = PagerDutyAlertNode().run({}, config, context(region="eu"))
    assert output["dedup_key"] == "db-eu"
    assert sent(http_peer) == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "resolve",
        "dedup_key": "db-eu",
    }


def test_pagerduty_refusing_the_event_fails_with_its_errors(http_peer: HttpPeer) -> None:
    invalid = {"status": "invalid event", "message": "Event object is invalid", "errors": ["bad key"]}
    answer(http_peer, "/v2/enqueue", 400, invalid)
    config = {"routing_key": "nope", "summary": "x", "events_url": f"{http_peer.url}/v2/enqueue"}
    with pytest.raises(NodeError) as failure:
        PagerDutyAlertNode().run({}, config, context())
    assert failure.value.error_type == "delivery_failed"
    assert failure.value.message.startswith("PagerDuty answered 400:")
    assert "bad key" in failure.value.message


def test_pagerduty_acknowledge_without_a_dedup_key_is_a_config_error(http_peer: HttpPeer) -> None:
    config = {"routing_key": "k", "summary": "x", "event_action": "acknowledge", "events_url": http_peer.url}
    with pytest.raises(NodeError) as failure:
        PagerDutyAlertNode().run({}, config, context())
    assert failure.value.error_type == "invalid_config"
    assert http_peer.requests == []


def test_pagerduty_to_loopback_is_refused_by_the_ssrf_guard(http_peer: HttpPeer) -> None:
    config = {"routing_key": "k", "summary": "x", "events_url": f"{http_peer.url}/v2/enqueue"}
    with pytest.raises(NodeError) as failure:
        PagerDutyAlertNode().run({}, config, context(GUARDED))
    assert failure.value.error_type == "blocked_url"


# --- Email ----------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    requires_login: bool
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def message(self, index: int = 0) -> Any:
        return message_from_bytes(self.envelopes[index].content, policy=policy.default)


@pytest.fixture(params=[False, True], ids=["open", "auth"])
def mailbox(request: pytest.FixtureRequest) -> Iterator[Mailbox]:
    """An SMTP server; the `auth` one requires a login (user `dagy`, password `s3cret`)."""
    box = Mailbox(port=free_port(), requires_login=request.param)

    class Handler:
        async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
            box.envelopes.append(envelope)
            return "250 Message accepted"

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        box.logins.append((login, password))
        return AuthResult(success=(login, password) == ("dagy", "s3cret"), handled=False)

    extra = {"authenticator": authenticator, "auth_required": True} if request.param else {}
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, auth_require_tls=False, **extra)
    controller.start()
    yield box
    controller.stop()


def smtp_config(box: Mailbox, **data: Any) -> dict[str, Any]:
    login = {"smtp_username": "dagy", "smtp_password": "s3cret"} if box.requires_login else {}
    return {"smtp_host": "127.0.0.1", "smtp_port": box.port, **login, **data}


def test_an_email_reaches_every_recipient(mailbox: Mailbox) -> None:
    config = smtp_config(
        mailbox,
        to=["ana@example.com", "Bo Li <bo@example.com>"],
        cc=["ops@example.com"],
        from_address="Dagy <reports@example.com>",
        subject="{flow_name}: {input[count]} rows",
        body="Rows loaded: {input[count]}\nRun {run_id}",
    )
    output = EmailSendNode().run({"load": {"count": 5}}, config, context())
    assert mailbox.logins == ([("dagy", "s3cret")] if mailbox.requires_login else [])
    assert output["delivered"] is True
    assert output["recipients"] == ["ana@example.com", "bo@example.com", "ops@example.com"]
    assert output["refused"] == []
    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "reports@example.com"
    assert envelope.rcpt_tos == ["ana@example.com", "bo@example.com", "ops@example.com"]
    message = mailbox.message()
    assert message["Subject"] == "nightly-report: 5 rows"
    assert message["To"] == "ana@example.com, Bo Li <bo@example.com>"
    assert message["Cc"] == "ops@example.com"
    assert message["Message-ID"] == output["message_id"] and output["message_id"].endswith("@example.com>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Rows loaded: 5\nRun run-7\n"


def test_an_html_email_carries_a_text_alternative_and_escapes_what_it_inserts(mailbox: Mailbox) -> None:
    config = smtp_config(
        mailbox,
        to=["ana@example.com"],
        subject="Report",
        body="<h1>Report</h1><p>Top: {input[top]}</p><ul><li>one</li><li>two</li></ul>",
        body_format="html",
    )
    EmailSendNode().run({"rank": {"top": "<b>A & B</b>"}}, config, context())
    message = mailbox.message()
    assert message.get_content_type() == "multipart/alternative"
    text, markup = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert "<p>Top: &lt;b&gt;A &amp; B&lt;/b&gt;</p>" in markup
    assert text == "Report\n\nTop: <b>A & B</b>\n\none\n\ntwo\n"


def test_the_smtp_server_of_the_host_is_used_when_the_node_names_none(mailbox: Mailbox) -> None:
    settings = HostSettings(
        allow_private_network=True,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_username="dagy" if mailbox.requires_login else None,
        smtp_password="s3cret" if mailbox.requires_login else None,
        smtp_from="noreply@dagy.example",
    )
    config = {"to": ["ana@example.com"], "subject": "s", "body": "b", "smtp_port": 587}
    EmailSendNode().run({}, config, context(settings))
    assert mailbox.envelopes[0].mail_from == "noreply@dagy.example"


@pytest.mark.parametrize("mailbox", [True], indirect=True, ids=["auth"])
def test_a_wrong_smtp_password_fails_as_authentication_failed(mailbox: Mailbox) -> None:
    config = smtp_config(mailbox, smtp_password="wrong", to=["ana@example.com"], subject="s", body="b")
    with pytest.raises(NodeError) as failure:
        EmailSendNode().run({}, config, context())
    assert failure.value.error_type == "authentication_failed"
    assert mailbox.logins and set(mailbox.logins) == {("dagy", "wrong")}  # smtplib tries each mechanism
    assert mailbox.envelopes == []


def test_an_email_without_an_smtp_server_fails_plainly() -> None:
    config = {"to": ["ana@example.com"], "subject": "s", "body": "b"}
    with pytest.raises(NodeError) as failure:
        EmailSendNode().run({}, config, context(HostSettings(smtp_host=None)))
    assert failure.value.error_type == "no_smtp_server"


@pytest.mark.parametrize("mailbox", [False], indirect=True, ids=["open"])
def test_an_smtp_server_on_loopback_is_refused_by_the_ssrf_guard(mailbox: Mailbox) -> None:
    config = smtp_config(mailbox, to=["ana@example.com"], subject="s", body="b")
    with pytest.raises(NodeError) as failure:
        EmailSendNode().run({}, config, context(GUARDED))
    assert failure.value.error_type == "blocked_url"
    assert mailbox.envelopes == []


@pytest.mark.parametrize("to", [[], ["not-an-address"], ["a@example.com\nBcc: x@evil.example"]])
def test_bad_recipients_are_a_config_error(to: list[str]) -> None:
    config = {"to": to, "subject": "s", "body": "b", "smtp_host": "127.0.0.1"}
    with pytest.raises(NodeError) as failure:
        EmailSendNode().run({}, config, context())
    assert failure.value.error_type == "invalid_config"
