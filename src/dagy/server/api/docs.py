"""The interactive API reference and the server's front page.

`/v1/docs` is Swagger UI served with its assets from the `fastapi-offline` package (no CDN: it
works on a machine without internet). The OpenAPI schema declares the bearer scheme that session
tokens and API keys use, on every operation whose route authenticates its caller, so the page's
"Authorize" button works and public operations (login, health, webhooks) stay open. `/` says what
the server is and links the reference until the web app serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from dagy import __version__

BEARER = "bearer"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A session token from `POST /v1/auth/login`, or an API key (`dagy_sk_...`). "
    "Calls in an org send its id in `X-Org-Id` too.",
}

home_router = APIRouter(include_in_schema=False)


@home_router.get("/", response_class=HTMLResponse)
async def home() -> str:
    return _HOME.format(version=__version__)


def with_bearer_scheme(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi` with the bearer scheme declared, and required by each authenticated route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = BEARER_SCHEME
        for path, route in api_routes(list(app.routes)):
            if not route.include_in_schema:
                continue
            if _marked(route.dependant, "authenticates"):
                security: list[dict[str, list[str]]] = [{BEARER: []}]
            elif _marked(route.dependant, "authenticates_optionally"):  # OpenAPI: {} = no auth
                security = [{}, {BEARER: []}]
            else:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = security
        return schema

    return openapi


def api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) of every API route, those of included routers too (FastAPI >= 0.140
    keeps an included router as one entry naming the original router and its prefix)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path_format, route))
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes, prefix + route.include_context.prefix))
    return found


def _marked(dependant: Dependant, mark: str) -> bool:
    """Whether a dependency of the route (at any depth) carries `mark` (`security.authenticates`,
    or `authenticates_optionally` for a public route that answers a signed-in caller differently)."""
    return any(
        getattr(dependency.call, mark, False) or _marked(dependency, mark)
        for dependency in dependant.dependencies
    )


_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dagy</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}}</style>
</head><body>
<h1>Dagy {version}</h1>
<p>This is a Dagy server: a workflow orchestration platform. Its HTTP API is under <code>/v1</code>.</p>
<ul>
<li><a href="/v1/docs">The interactive API reference</a> (sign in with <code>POST /v1/auth/login</code>,
then "Authorize" with the token)</li>
<li><a href="/v1/openapi.json">The OpenAPI schema</a></li>
<li><a href="/v1/health">Health</a></li>
</ul>
</body></html>
"""
