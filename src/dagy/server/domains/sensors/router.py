"""`/sensors` (CRUD, test, events) and the public `POST /webhooks/{token}`."""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from dagy.server.api.deps import DatabaseDep, SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.ratelimit import RateLimiter
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.sensors import service
from dagy.server.domains.sensors.schemas import (
    SensorCreate,
    SensorCreated,
    SensorEventList,
    SensorList,
    SensorRead,
    SensorTested,
    SensorType,
    SensorUpdate,
    WebhookAccepted,
)
from dagy.server.errors import InvalidInput, PayloadTooLarge, RateLimited

MAX_WEBHOOK_BYTES = 1024 * 1024

router = APIRouter(prefix="/sensors", tags=["Sensors"])
webhooks_router = APIRouter(prefix="/webhooks", tags=["Sensors"])

_read = [Depends(require_permission("sensors.read"))]
_write = [Depends(require_permission("sensors.write"))]
Paging = Annotated[PageRequest, Depends(page_params(20, 100))]


@router.post("", status_code=201, response_model=SensorCreated, dependencies=_write)
async def create_sensor(
    body: SensorCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> SensorCreated:
    """Webhook sensors answer their `webhook_token` here and on `GET /sensors/{id}`."""
    return await tx.run(service.create_sensor, actor=actor, data=body, settings=settings)


@router.get("", response_model=SensorList, response_class=JSONBytesResponse, dependencies=_read)
async def list_sensors(
    tx: Tx,
    actor: CurrentActor,
    page: Paging,
    *,
    sensor_type: SensorType | None = None,
    flow_name: Annotated[str | None, Query(max_length=128)] = None,
    enabled: bool | None = None,
) -> JSONBytesResponse:
    """Newest first."""
    sensors = await tx.list(
        service.list_sensors,
        actor=actor,
        page=page,
        sensor_type=sensor_type,
        flow_name=flow_name,
        enabled=enabled,
    )
    return page_response(sensors)


@router.get("/{sensor_id}", response_model=SensorRead, dependencies=_read)
async def get_sensor(sensor_id: str, tx: Tx, actor: CurrentActor, settings: SettingsDep) -> SensorRead:
    return await tx.run(service.get_sensor, actor=actor, sensor_id=sensor_id, settings=settings)


@router.patch("/{sensor_id}", response_model=SensorRead, dependencies=_write)
async def update_sensor(
    sensor_id: str, body: SensorUpdate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> SensorRead:
    return await tx.run(service.update_sensor, actor=actor, sensor_id=sensor_id, data=body, settings=settings)


@router.delete("/{sensor_id}", status_code=204, response_class=Response, dependencies=_write)
async def delete_sensor(sensor_id: str, tx: Tx, actor: CurrentActor) -> Response:
    await tx.run(service.delete_sensor, actor=actor, sensor_id=sensor_id)
    return Response(status_code=204)


@router.post("/{sensor_id}/test", response_model=SensorTested, dependencies=_write)
async def test_sensor(
    sensor_id: str, db: DatabaseDep, actor: CurrentActor, settings: SettingsDep
) -> SensorTested:
    """Fire once with a test event; an s3 or polling sensor's source is read first (400 when it
    cannot be). The service reads the source between its own two transactions."""
    test = functools.partial(service.test_sensor, db, actor=actor, sensor_id=sensor_id, settings=settings)
    return await anyio.to_thread.run_sync(test)


@router.get(
    "/{sensor_id}/events",
    response_model=SensorEventList,
    response_class=JSONBytesResponse,
    dependencies=_read,
)
async def list_sensor_events(sensor_id: str, tx: Tx, actor: CurrentActor, page: Paging) -> JSONBytesResponse:
    """Newest first: fired, refused, failed and test events."""
    events = await tx.list(service.list_sensor_events, actor=actor, sensor_id=sensor_id, page=page)
    return page_response(events)


async def _token_rate_limit(token: str, request: Request) -> None:
    """`DAGY_WEBHOOK_RATE_LIMIT_PER_MINUTE` requests per token, in the app's rate-limit store."""
    limiter: RateLimiter = request.app.state.webhook_limiter
    decision = await limiter.check("wh:" + hashlib.sha256(token.encode()).hexdigest()[:32])
    if not decision.allowed:
        retry_after = max(1, decision.reset_at - int(time.time()))
        raise RateLimited(
            "Webhook rate limit exceeded; retry later.",
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


async def _json_body(request: Request) -> tuple[Any, bytes]:
    """The body as JSON (any JSON value), at most `MAX_WEBHOOK_BYTES`."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(
                "The webhook body is too large.", details={"body": f"at most {MAX_WEBHOOK_BYTES} bytes"}
            )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("The webhook body is not JSON.", details={"body": "must be JSON"}) from None
    if b"\\u0000" in body and _has_nul(payload):  # PostgreSQL's JSON cannot hold U+0000
        raise InvalidInput("The webhook body holds U+0000.", details={"body": "must not contain \\u0000"})
    return payload, bytes(body)


def _has_nul(value: Any) -> bool:
    """Whether a string or key anywhere in `value` holds U+0000 (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


@webhooks_router.post(
    "/{token}", status_code=202, response_model=WebhookAccepted, dependencies=[Depends(_token_rate_limit)]
)
async def receive_webhook(token: str, request: Request, tx: Tx, settings: SettingsDep) -> WebhookAccepted:
    """Public: the token is the credential. The JSON body reaches the run as its parameter `event`."""
    payload, body = await _json_body(request)
    return await tx.run(
        service.receive_webhook,
        token=token,
        payload=payload,
        body_digest=hashlib.sha256(body).hexdigest(),
        body_bytes=len(body),
        settings=settings,
    )
