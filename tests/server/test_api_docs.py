"""The interactive API reference: a bearer scheme in the OpenAPI schema on exactly the operations
that need a caller, Swagger UI served with no network, and the server's front page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_every_operation_declares_whether_it_needs_a_bearer_token_and_is_right(client: TestClient) -> None:
    schema = client.get("/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    public = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            url = re.sub(r"\{[^}]+\}", "x", path)
            body = {} if method in ("post", "put", "patch") else None
            answer = client.request(method.upper(), url, json=body)
            if operation.get("security") == [{"bearer": []}]:
                assert answer.status_code == 401, (method, path, answer.status_code)
            else:
                assert answer.status_code != 401, (method, path)
                public.append(f"{method.upper()} {path}")
    navigation = schema["paths"]["/v1/ui/navigation"]["get"]
    assert navigation["security"] == [{}, {"bearer": []}]  # optional: anonymous or signed in
    assert sorted(public) == [
        "GET /v1/auth/oidc/callback",  # single sign-on: the provider's redirect back
        "GET /v1/auth/oidc/login",  # single sign-on: the redirect to the provider
        "GET /v1/billing/plans",
        "GET /v1/health",
        "GET /v1/health/live",  # the orchestrators' probes
        "GET /v1/health/ready",
        "GET /v1/ui/marketing",
        "GET /v1/ui/navigation",  # a caller's token, when sent, only widens what it lists
        "POST /v1/auth/invitations/accept",
        "POST /v1/auth/login",
        "POST /v1/billing/webhook",  # Stripe's signature is the credential
        "POST /v1/webhooks/{token}",
        "PUT /v1/artifacts/uploads/{upload_id}/parts/{part_number}",  # its signed URL is the credential
    ]


def test_the_docs_page_loads_its_assets_from_the_server_not_a_cdn(client: TestClient) -> None:
    page = client.get("/v1/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/v1/docs-assets/swagger-ui-bundle.js" in assets and "/v1/docs-assets/swagger-ui.css" in assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))], assets
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        served = client.get(f"/v1/docs-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000


def test_the_front_page_says_what_the_server_is_and_links_the_reference(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/v1/docs"' in page.text and "Dagy" in page.text
