"""AI Studio test data through the HTTP API: sessions, credits (granted by a super admin, as in
production), turns, uploaded attachments and their files, made in the test."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import SUPERADMIN
from tests.factories import Caller, login

# The reference's example request: five allowlisted nodes in a line.
REFERENCE_REQUEST = (
    "Build a workflow that reads JSON from S3, validates schema, normalizes records, deduplicates, "
    "and writes back to S3."
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def grant_credits(client: TestClient, caller: Caller, amount: float) -> float:
    """A super admin adds credits to the caller's org; answers the new balance."""
    admin = {"Authorization": f"Bearer {login(client, SUPERADMIN)}"}
    response = client.post(
        f"/v1/admin/customers/{caller.org_id}/credits", headers=admin, json={"amount": amount}
    )
    assert response.status_code == 200, response.text
    return float(response.json()["credits_balance"])


def balance(client: TestClient, caller: Caller) -> float:
    response = client.get("/v1/ai-studio/tiers", headers=caller.headers)
    assert response.status_code == 200, response.text
    return float(response.json()["credits_balance"])


def new_session(client: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/ai-studio/sessions", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def session_path(session: dict[str, Any]) -> str:
    return f"/v1/ai-studio/sessions/{session['session_id']}"


def send(
    client: TestClient, caller: Caller, session: dict[str, Any], message: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    """A synchronous turn: (status code, body)."""
    headers = caller.headers | body.pop("headers", {})
    response = client.post(
        f"{session_path(session)}/messages", headers=headers, json={"message": message, **body}
    )
    return response.status_code, response.json()


def upload(
    client: TestClient,
    caller: Caller,
    session: dict[str, Any],
    filename: str,
    content_type: str,
    *,
    data: bytes,
) -> tuple[int, dict[str, Any]]:
    """Initiate, PUT the bytes to the upload URL (no bearer token: the URL is signed), complete."""
    initiated = client.post(
        f"{session_path(session)}/attachments/initiate",
        headers=caller.headers,
        json={"filename": filename, "content_type": content_type, "size": len(data)},
    )
    assert initiated.status_code == 200, initiated.text
    target = initiated.json()
    put = client.put(target["upload_url"], content=data)
    assert put.status_code == 200, put.text
    completed = client.post(
        f"{session_path(session)}/attachments/complete",
        headers=caller.headers,
        json={"attachment_id": target["attachment_id"], "etag": put.headers["etag"]},
    )
    return completed.status_code, completed.json() | {"attachment_id": target["attachment_id"]}


# Real small files of each type, made here with the libraries the server reads them with.


def pdf_bytes(*lines: str) -> bytes:
    """A one-page PDF whose text is `lines`, written with pypdf: a Helvetica font and a content
    stream of text operators."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): font})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode())
    page.replace_contents(ContentStream(stream, writer))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(*slides: tuple[str, str]) -> bytes:
    """Slides of (title, body)."""
    import pptx

    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]  # title and content
    for title, body in slides:
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()
