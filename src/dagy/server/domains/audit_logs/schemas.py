"""Query filters and bodies of `/audit-logs`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel


def _iso8601(value: object) -> object:
    """ISO 8601 only (no epoch numbers, no free text); a time without zone is UTC."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 date or date-time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso8601)]


class AuditLogQuery(BaseModel):
    """Filters of `GET /audit-logs`; all optional, combined with AND. Dates are inclusive."""

    resource_type: str | None = Field(None, max_length=32, description="flow, run, schedule, api_key, ...")
    action: str | None = Field(None, max_length=32, description="create, update, delete, execute, read")
    actor_email: str | None = Field(None, max_length=254)
    start_date: IsoDateTime | None = Field(None, description="ISO 8601; a date alone is its midnight UTC.")
    end_date: IsoDateTime | None = Field(None, description="ISO 8601; a date alone is its midnight UTC.")


class AuditLogRead(ResponseModel):
    audit_id: str
    timestamp: Timestamp
    actor_email: str | None
    action: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    changes: dict[str, Any]
    ip_address: str | None
    user_agent: str | None


class AuditTrailItem(ResponseModel):
    audit_id: str
    timestamp: Timestamp
    actor_email: str | None
    action: str
    changes: dict[str, Any]


class AuditTrailRead(ResponseModel):
    resource_id: str
    resource_type: str
    resource_name: str | None
    items: list[AuditTrailItem]
    next_token: str | None = None
