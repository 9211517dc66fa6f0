"""AI Studio's attachments through HTTP with the local store: a single-part signed upload, then
parsing of real small files of every accepted type (made here with pypdf, python-docx and
python-pptx, or written out as text), images and other types refused naming the field, files that
do not parse refused, the per-session limit, completion errors and deletion."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.ai_studio_factories import (
    DOCX,
    PPTX,
    docx_bytes,
    new_session,
    pdf_bytes,
    pptx_bytes,
    session_path,
    upload,
)
from tests.factories import Caller, new_org

CSV = b"order_id,amount,paid,customer\n1001,19.5,true,ann@example.com\n1002,7,false,bob@example.com\n"
RECORDS = [
    {"id": "a-1", "total": 3, "tags": ["x"], "address": {"city": "Lyon", "zip": "69001"}},
    {"id": "a-2", "total": 4.5, "tags": [], "address": {"city": "Nice"}, "note": None},
]
YAML = b"""\
records:
  - sku: P-1
    price: 10
    created: 2026-01-02
  - sku: P-2
    price: 12.5
    created: 2026-01-03
"""


def _initiate(client: TestClient, caller: Caller, session: dict[str, Any], **body: Any) -> Any:
    payload = {"filename": "notes.txt", "content_type": "text/plain", "size": 10} | body
    return client.post(f"{session_path(session)}/attachments/initiate", headers=caller.headers, json=payload)


def test_every_accepted_type_is_parsed_into_text_and_data_files_into_a_schema(
    app: FastAPI, client: TestClient
) -> None:
    owner = new_org(app, client)
    session = new_session(client, owner, tier="max")
    files = {
        "spec.pdf": (
            "application/pdf",
            pdf_bytes("Orders arrive hourly in s3://raw/orders", "Dedupe on order_id"),
        ),
        "brief.docx": (
            DOCX,
            docx_bytes("Normalize the emails.", table=[["field", "rule"], ["email", "lower"]]),
        ),
        "deck.pptx": (PPTX, pptx_bytes(("Pipeline", "Read, validate, write"), ("Owners", "Data team"))),
        "orders.csv": ("text/csv", CSV),
        "records.json": ("application/json", json.dumps(RECORDS).encode()),
        "products.yaml": ("application/x-yaml", YAML),
        "readme.txt": ("text/plain", b"Plain notes: keep the last 30 days.\n"),
        "rules.md": ("application/octet-stream", b"# Rules\n\n- drop rows without **id**\n"),
    }
    parsed = {}
    for filename, (content_type, data) in files.items():
        status, body = upload(client, owner, session, filename, content_type, data=data)
        assert status == 200, (filename, body)
        assert (body["filename"], body["status"], body["size"]) == (filename, "ready", len(data))
        parsed[filename] = body

    assert "Orders arrive hourly in s3://raw/orders\nDedupe on order_id" in parsed["spec.pdf"]["text_preview"]
    assert parsed["spec.pdf"]["kind"] == "pdf" and parsed["spec.pdf"]["inferred_schema"] is None
    assert parsed["brief.docx"]["text_preview"] == "Normalize the emails.\nfield | rule\nemail | lower"
    assert parsed["deck.pptx"]["text_preview"] == (
        "Slide 1:\nPipeline\nRead, validate, write\n\nSlide 2:\nOwners\nData team"
    )
    assert parsed["readme.txt"]["text_preview"] == "Plain notes: keep the last 30 days.\n"
    assert parsed["rules.md"]["kind"] == "md" and parsed["rules.md"]["samples"] == []

    orders = parsed["orders.csv"]
    assert orders["text_preview"] == CSV.decode() and orders["text_chars"] == len(CSV)
    assert orders["inferred_schema"] == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "order_id": {"type": "integer"},
            "amount": {"type": "number"},
            "paid": {"type": "boolean"},
            "customer": {"type": "string", "format": "email"},
        },
        "required": ["order_id", "amount", "paid", "customer"],
    }
    assert orders["samples"] == [
        {"order_id": 1001, "amount": 19.5, "paid": True, "customer": "ann@example.com"},
        {"order_id": 1002, "amount": 7, "paid": False, "customer": "bob@example.com"},
    ]
    records = parsed["records.json"]
    assert records["samples"] == RECORDS
    assert records["inferred_schema"]["properties"] == {
        "id": {"type": "string"},
        "total": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
        "note": {"type": "null"},
    }
    assert records["inferred_schema"]["required"] == ["id", "total", "tags", "address"]
    products = parsed["products.yaml"]
    assert products["samples"] == [
        {"sku": "P-1", "price": 10, "created": "2026-01-02"},
        {"sku": "P-2", "price": 12.5, "created": "2026-01-03"},
    ]
    assert products["inferred_schema"]["properties"]["created"] == {"type": "string", "format": "date"}

    read = client.get(session_path(session), headers=owner.headers).json()
    assert [a["filename"] for a in read["attachments"]] == list(files)
    assert (
        read["attachments"]
        == list(parsed.values())
        == [body | {"attachment_id": body["attachment_id"]} for body in parsed.values()]
    )


def test_images_and_other_types_are_refused_naming_the_field(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    session = new_session(client, owner)
    refusals = [
        ({"filename": "scan.png", "content_type": "image/png"}, "content_type"),
        ({"filename": "scan.jpg", "content_type": "application/octet-stream"}, "filename"),
        ({"filename": "report.pdf", "content_type": "image/jpeg"}, "content_type"),
        ({"filename": "tool.exe", "content_type": "application/octet-stream"}, "filename"),
        ({"filename": "noextension", "content_type": "text/plain"}, "filename"),
        ({"filename": "data.csv", "content_type": "application/pdf"}, "content_type"),
        ({"filename": "../etc/passwd.txt", "content_type": "text/plain"}, "filename"),
        ({"size": 0}, "size"),
        ({"size": 25 * 1024 * 1024 + 1}, "size"),
        ({"filename": ""}, "filename"),
    ]
    for body, field in refusals:
        response = _initiate(client, owner, session, **body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_input" and field in response.json()["details"], body
    image = _initiate(client, owner, session, filename="scan.png", content_type="image/png").json()
    assert "no OCR" in image["details"]["content_type"]
    assert _initiate(client, owner, session, size=25 * 1024 * 1024).status_code == 200  # the ceiling itself
    assert (
        _initiate(client, owner, session, filename="Data.JSON", content_type="text/plain").status_code == 200
    )


def test_a_file_that_does_not_parse_is_refused_and_can_be_removed(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    session = new_session(client, owner, tier="max")
    broken = {
        "report.pdf": ("application/pdf", b"%PDF-1.7 this is not really a pdf"),
        "brief.docx": (DOCX, b"PK\x03\x04 not a zip archive"),
        "deck.pptx": (PPTX, b"plain text, no slides"),
        "data.json": ("application/json", b'{"records": [1, 2,'),
        "data.yaml": ("application/yaml", b"key: [unclosed"),
        "notes.txt": ("text/plain", b"\xff\xfe\x00latin junk \xe9"),
        "empty.csv": ("text/csv", b"\n"),
    }
    for filename, (content_type, data) in broken.items():
        status, body = upload(client, owner, session, filename, content_type, data=data)
        assert status == 400, (filename, body)
        assert body["error"] == "invalid_input" and "file" in body["details"], (filename, body)
    read = client.get(session_path(session), headers=owner.headers).json()
    pending = [a for a in read["attachments"] if a["status"] == "pending"]
    assert len(pending) == len(broken) and all(a["text_preview"] is None for a in pending)
    for attachment in pending:
        removed = client.delete(
            f"{session_path(session)}/attachments/{attachment['attachment_id']}", headers=owner.headers
        )
        assert removed.status_code == 204
    assert client.get(session_path(session), headers=owner.headers).json()["attachments"] == []


def test_a_session_holds_at_most_its_tiers_attachments(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    session = new_session(client, owner, tier="fast")
    limit = client.get("/v1/ai-studio/tiers", headers=owner.headers).json()["tiers"][0]["limits"]
    ids = [
        _initiate(client, owner, session).json()["attachment_id"]
        for _ in range(limit["attachments_per_session"])
    ]
    refused = _initiate(client, owner, session)
    assert refused.status_code == 429 and refused.json()["error"] == "quota_exceeded"
    assert refused.json()["details"] == {"attachments": f"at most {len(ids)} per session on this tier"}
    client.delete(f"{session_path(session)}/attachments/{ids[0]}", headers=owner.headers)
    assert _initiate(client, owner, session).status_code == 200
    client.patch(f"{session_path(session)}/tier", headers=owner.headers, json={"tier": "max"})
    assert _initiate(client, owner, session).status_code == 200  # the new tier's limit


def test_completion_checks_the_upload(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    session = new_session(client, owner)
    complete = f"{session_path(session)}/attachments/complete"
    target = _initiate(client, owner, session, size=5).json()
    not_uploaded = client.post(
        complete, headers=owner.headers, json={"attachment_id": target["attachment_id"], "etag": '"0"'}
    )
    assert not_uploaded.status_code == 400 and not_uploaded.json()["details"] == {"etag": "not uploaded"}
    wrong_size = client.put(target["upload_url"], content=b"too long")
    assert wrong_size.status_code == 400
    put = client.put(target["upload_url"], content=b"hello")
    assert put.status_code == 200
    wrong = client.post(
        complete, headers=owner.headers, json={"attachment_id": target["attachment_id"], "etag": '"0"'}
    )
    assert wrong.status_code == 400 and wrong.json()["details"] == {"etag": "the ETag does not match"}
    body = {"attachment_id": target["attachment_id"], "etag": put.headers["etag"]}
    done = client.post(complete, headers=owner.headers, json=body)
    assert done.status_code == 200 and done.json()["text_preview"] == "hello"
    again = client.post(complete, headers=owner.headers, json=body)
    assert again.status_code == 409 and again.json()["details"] == {"attachment_id": "completed"}
    unknown = client.post(complete, headers=owner.headers, json={"attachment_id": "aiatt_nope", "etag": "x"})
    assert unknown.status_code == 404 and unknown.json()["details"] == {"attachment_id": "no such attachment"}
    assert client.put(target["upload_url"], content=b"hello").status_code == 404  # the upload is closed
    tampered = target["upload_url"].replace("signature=", "signature=0")
    assert client.put(tampered, content=b"hello").status_code == 403

    path = f"{session_path(session)}/attachments/{target['attachment_id']}"
    assert client.delete(path, headers=owner.headers).status_code == 204
    assert client.delete(path, headers=owner.headers).status_code == 404
    assert client.get(session_path(session), headers=owner.headers).json()["attachments"] == []
    archived = new_session(client, owner)
    client.post(f"{session_path(archived)}/archive", headers=owner.headers)
    refused = _initiate(client, owner, archived)
    assert refused.status_code == 409 and refused.json()["details"] == {"session_id": "archived"}
