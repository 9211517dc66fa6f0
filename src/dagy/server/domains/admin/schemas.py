"""Bodies of `/admin/*`, the super admin's cross-org endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictFloat, StrictInt, StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.api.traces import KEY_PATTERN

OrgStatus = Literal["active", "suspended"]
PLAN_PATTERN = "^(free|starter|professional|pro|enterprise)$"
# A number in JSON, never a string that looks like one; no NaN or infinity.
Amount = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)]
FlagName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class CustomerQuery(BaseModel):
    """Filters of `GET /admin/customers`, combined with AND."""

    status: OrgStatus | None = Field(None, description="active or suspended")
    plan: str | None = Field(None, max_length=32, description="free, starter, professional, enterprise")
    search: str | None = Field(
        None, min_length=1, max_length=128, description="Part of the org's name or owner's email."
    )


class CustomerListItem(ResponseModel):
    org_id: str
    org_name: str
    owner_email: str
    plan: str
    status: str
    member_count: int
    created_at: Timestamp
    updated_at: Timestamp


class CustomerList(ResponseModel):
    items: list[CustomerListItem]
    total: int = Field(description="How many orgs match the filters, over every page.")
    next_token: str | None = None


class CustomerRead(ResponseModel):
    org_id: str
    org_name: str
    owner_email: str
    plan: str
    status: str
    quota_overrides: dict[str, Any]
    feature_flags: dict[str, Any]
    notes: str | None
    credits_balance: float
    created_at: Timestamp
    updated_at: Timestamp


class CustomerUpdate(RequestModel):
    """All fields optional; at least one. `status` suspends or activates as the dedicated routes do;
    `credits_balance` sets the balance, recorded in the credits ledger as one adjustment."""

    status: OrgStatus | None = None
    plan: str | None = Field(None, pattern=PLAN_PATTERN)
    quota_overrides: dict[FlagName, StrictInt] | None = Field(None, max_length=50)
    feature_flags: dict[FlagName, bool] | None = Field(None, max_length=100)
    notes: str | None = Field(None, max_length=4000)
    credits_balance: Annotated[Amount, Field(ge=0)] | None = None


class AdminMemberRead(ResponseModel):
    user_email: str
    role: str
    status: str
    joined_at: Timestamp | None


class AdminMemberList(ResponseModel):
    items: list[AdminMemberRead]


class UsagePeriod(ResponseModel):
    org_id: str
    period: str = Field(description="YYYY-MM for a month, YYYY-MM-DD for a day (UTC).")
    run_count: int
    task_count: int
    compute_seconds: float
    api_call_count: int
    error_count: int
    estimated_cost_usd: float


class CustomerUsage(ResponseModel):
    items: list[UsagePeriod] = Field(description="Per month, newest first.")
    daily: list[UsagePeriod] = Field(description="Per day over the last 30 days, newest first.")


class AdminAuditRead(ResponseModel):
    org_id: str | None
    event_time: Timestamp
    resource_type: str
    resource_id: str
    action: str
    actor_email: str | None
    metadata: dict[str, Any] = Field(
        description="The entry's changes; `impersonating: true` marks a super admin's."
    )


class AdminAuditList(ResponseModel):
    items: list[AdminAuditRead]
    next_token: str | None = None


class SessionRead(ResponseModel):
    user_email: str
    last_login_at: Timestamp | None
    current_token_issued_at: Timestamp


class SessionList(ResponseModel):
    items: list[SessionRead]


class SessionsRevoked(ResponseModel):
    status: Literal["revoked"] = "revoked"
    user_email: str
    deleted: int


class OrgStatusRead(ResponseModel):
    status: str
    org_id: str


class CreditsAdjust(RequestModel):
    amount: Amount = Field(description="Positive adds credits, negative deducts them; not zero.")
    reason: str | None = Field(None, max_length=500)


class CreditsRead(ResponseModel):
    org_id: str
    credits_balance: float


class ExceptionItem(ResponseModel):
    key: str
    size_bytes: int
    created_at: Timestamp


class ExceptionList(ResponseModel):
    items: list[ExceptionItem]


TraceKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]


class ExceptionDelete(RequestModel):
    keys: list[TraceKey] = Field(min_length=1, max_length=1000)


class ExceptionsDeleted(ResponseModel):
    deleted: int


class DownloadRead(ResponseModel):
    download_url: str = Field(
        description="A presigned URL valid 15 minutes (S3), or the content URL, which needs the "
        "super admin's bearer token (local folder)."
    )


class ImpersonationRead(ResponseModel):
    org_id: str
    org_name: str
    impersonating: Literal[True] = True
    header: str = Field("X-Impersonate-Org", description="Send it, with `org_id`, on the following requests.")
