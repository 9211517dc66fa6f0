"""AI Studio's attachments through the S3 store, against moto's standalone S3 server: the file goes
to a presigned PUT URL, completion assembles and parses it, and the bucket keeps nothing of it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.ai_studio_factories import new_session, session_path
from tests.factories import new_org
from tests.server.test_artifacts_s3 import _client, moto_url, s3_settings  # noqa: F401 - fixtures of the settings marker

pytestmark = pytest.mark.settings("s3_settings")

CSV = b"id,city\n1,Lyon\n2,Nice\n"


def test_an_attachment_goes_to_a_presigned_url_and_leaves_nothing_in_the_bucket(
    app: FastAPI, client: TestClient
) -> None:
    bucket_name, endpoint = app.state.settings.s3_bucket, app.state.settings.s3_endpoint_url
    owner = new_org(app, client)
    session = new_session(client, owner)
    initiated = client.post(
        f"{session_path(session)}/attachments/initiate",
        headers=owner.headers,
        json={"filename": "cities.csv", "content_type": "text/csv", "size": len(CSV)},
    )
    assert initiated.status_code == 200, initiated.text
    target = initiated.json()
    assert target["upload_url"].startswith(f"{endpoint}/{bucket_name}/ai-studio/{owner.org_id}/")
    put = httpx.put(target["upload_url"], content=CSV)  # to S3 itself, not through the server
    assert put.status_code == 200, put.text
    completed = client.post(
        f"{session_path(session)}/attachments/complete",
        headers=owner.headers,
        json={"attachment_id": target["attachment_id"], "etag": put.headers["etag"]},
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["samples"] == [{"id": 1, "city": "Lyon"}, {"id": 2, "city": "Nice"}]
    bucket = _client(endpoint)
    prefix = f"ai-studio/{owner.org_id}/"
    assert bucket.list_objects_v2(Bucket=bucket_name, Prefix=prefix).get("KeyCount") == 0
    open_uploads = bucket.list_multipart_uploads(Bucket=bucket_name, Prefix=prefix)
    assert open_uploads.get("Uploads", []) == []

    pending = client.post(
        f"{session_path(session)}/attachments/initiate",
        headers=owner.headers,
        json={"filename": "later.csv", "content_type": "text/csv", "size": 10},
    ).json()
    client.delete(session_path(session), headers=owner.headers)  # its open upload is aborted
    open_uploads = bucket.list_multipart_uploads(Bucket=bucket_name, Prefix=prefix)
    assert open_uploads.get("Uploads", []) == [], pending
