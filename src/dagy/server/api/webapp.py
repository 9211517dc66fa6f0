"""The web app (`web/`, built by Vite) served at `/`, beside the API under `/v1`.

The build is a folder: `index.html` and hashed files under `assets/`. It is read once, at start:
- `/assets/<name>` answers from memory, gzip-compressed when the browser accepts it, cached for a
  year (a new build has new names);
- any other GET outside `/v1` is a page of the app (client-side routing): `index.html`, never
  cached, with the server's sign-in mode written into its `<meta name="dagy-auth-mode">`, so the
  sign-in page asks for a password only where the server wants one;
- a path with a file extension that is not in the build is a 404.

The folder is `DAGY_WEB_DIR`, by default the one the package ships (`dagy/server/webapp/`,
written by `npm run build` in `web/` and put in the wheel). Without a build, `/` stays the short
page of `api/docs.py` that links the API reference.
"""

from __future__ import annotations

import gzip
import mimetypes
from dataclasses import dataclass
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dagy.server.errors import NotFound

AUTH_MODE_META = '<meta name="dagy-auth-mode" content="">'
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None  # None when compressing would not make it smaller
    media_type: str


def _load_assets(folder: Path) -> dict[str, _Asset]:
    assets: dict[str, _Asset] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name == "index.html":
            continue
        body = path.read_bytes()
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        assets[path.relative_to(folder).as_posix()] = _Asset(
            body, packed if len(packed) < len(body) else None, media_type
        )
    return assets


def webapp_router(folder: Path, auth_mode: str) -> APIRouter:
    """The routes that serve the build in `folder` (read now, served from memory)."""
    index = (folder / "index.html").read_text(encoding="utf-8")
    if AUTH_MODE_META not in index:
        raise ValueError(f"{folder / 'index.html'} has no {AUTH_MODE_META}: not a build of web/")
    page = index.replace(AUTH_MODE_META, f'<meta name="dagy-auth-mode" content="{escape(auth_mode)}">')
    assets = _load_assets(folder)
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def serve(path: str, request: Request) -> Response:
        if path == "v1" or path.startswith("v1/"):
            raise NotFound(f"No route {request.url.path}")
        asset = assets.get(path)
        if asset is not None:
            cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
            headers = {"cache-control": cache, "vary": "accept-encoding"}
            if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
                headers["content-encoding"] = "gzip"
                return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
            return Response(asset.body, media_type=asset.media_type, headers=headers)
        if "." in path.rsplit("/", 1)[-1]:
            raise NotFound(f"No file {request.url.path}")
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    return router
