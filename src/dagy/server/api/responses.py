"""JSON answers rendered once, from values that are already what the response model says.

A handler on the list read path (docs/adr/0007-list-read-path.md) returns `page_response(page)`;
its route keeps `response_model=` for the OpenAPI document, and FastAPI passes a returned
`Response` through without validating or serialising the items a second time. The items must
therefore be exactly the model's JSON form: names, types, UTC timestamps. The values JSON
cannot hold natively are rendered as the schemas render them: datetimes as RFC 3339 in UTC with
a `Z` (`api.schemas.Timestamp`), NaN and infinities as null, integers of any size.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic_core
from starlette.responses import JSONResponse

from dagy.server.api.pagination import KeysetPage

# Naive datetimes do not occur (UTCDateTime answers aware UTC values); were one to, it is UTC.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class JSONBytesResponse(JSONResponse):
    """`application/json` from `orjson`: what `response_class=` names on a read-path route (a
    `JSONResponse`, so the OpenAPI document still shows the route's `response_model`)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=_OPTIONS)
        except orjson.JSONEncodeError:
            # An integer past 64 bits, which a JSON column (a schedule's parameters, an audit row's
            # changes) may hold: pydantic-core writes it, and everything else, as the models do.
            return pydantic_core.to_json(content, inf_nan_mode="null")


def page_response(page: KeysetPage[Any]) -> JSONBytesResponse:
    """`{"items": [...], "next_token": ...}`, the body of every `Page[...]` schema and of the lists
    shaped like it (`FlowList`, `SecretList`, ...)."""
    return JSONBytesResponse({"items": page.items, "next_token": page.next_token})
