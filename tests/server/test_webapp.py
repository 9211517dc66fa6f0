"""The web app's build served at `/` (api/webapp.py): pages, assets, the API left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.settings import Settings

SCRIPT = "console.log('dagy');\n" * 200
INDEX = """<!doctype html><html><head><meta name="dagy-auth-mode" content="">
<script type="module" src="/assets/index-abc123.js"></script></head>
<body><div id="root"></div></body></html>"""


@pytest.fixture
def web_build(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "webapp"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "index-abc123.js").write_text(SCRIPT)
    (folder / "favicon.svg").write_text("<svg/>")
    return {"web_dir": folder}


pytestmark = pytest.mark.settings("web_build")


@pytest.mark.parametrize("path", ["/", "/runs", "/runs/0a1b2c", "/settings/api-keys"])
def test_every_page_of_the_app_is_its_index_with_the_sign_in_mode(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<meta name="dagy-auth-mode" content="email">' in page.text
    assert page.headers["cache-control"] == "no-cache"


@pytest.mark.settings(auth_mode="password")
def test_a_password_server_says_so_in_the_page(client: TestClient) -> None:
    assert '<meta name="dagy-auth-mode" content="password">' in client.get("/login").text


def test_assets_are_compressed_and_cached_for_good(client: TestClient) -> None:
    packed = client.get("/assets/index-abc123.js", headers={"accept-encoding": "gzip"})
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert packed.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert packed.num_bytes_downloaded < len(SCRIPT) / 10  # httpx decodes it: the body is the file's
    assert packed.text == SCRIPT
    plain = client.get("/assets/index-abc123.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == SCRIPT


def test_a_file_outside_assets_is_served_but_revalidated(client: TestClient) -> None:
    icon = client.get("/favicon.svg")
    assert icon.status_code == 200 and icon.text == "<svg/>" and icon.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/index-gone.js", "/robots.txt"])
def test_a_missing_file_is_a_404_not_the_page(client: TestClient, path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/v1", "/v1/no-such-route", "/v1/runs/x/y/z"])
def test_the_api_keeps_its_404s(client: TestClient, path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"


def test_the_api_is_untouched(client: TestClient) -> None:
    assert client.get("/v1/health").status_code == 200
    assert client.get("/v1/docs").headers["content-type"].startswith("text/html")


def test_a_folder_that_is_not_a_build_is_refused_at_start(settings: Settings, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_text("<html></html>")
    with pytest.raises(ValueError, match="dagy-auth-mode"):
        create_app(settings.model_copy(update={"web_dir": other}), migrate=False)
