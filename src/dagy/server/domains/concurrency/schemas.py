"""`/concurrency-limits`: how many runs of a flow, of a deployment or holding a pool's slots run at
once, and what happens to a run that would go over."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from dagy.server.api.schemas import Page, RequestModel, ResponseModel

MAX_SLOTS = 10_000
MAX_MATCHES = 20


class LimitKind(StrEnum):
    """What a limit counts: the runs of one flow, of one deployment, or of a pool's members."""

    FLOWS = "flows"
    DEPLOYMENTS = "deployments"
    POOLS = "pools"


class CollisionStrategy(StrEnum):
    """What the claim does with a run when one of its limits is full: leave it queued until a slot
    frees (`enqueue`), cancel it (`cancel_new`), or fail it (`fail`)."""

    ENQUEUE = "enqueue"
    CANCEL_NEW = "cancel_new"
    FAIL = "fail"


Match = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/@-]+$")]


class ConcurrencyLimitPut(RequestModel):
    """A limit's whole setting (PUT creates or replaces it)."""

    slots: int = Field(
        ge=1, le=MAX_SLOTS, description="Runs that may hold the limit at once (running, or waiting in a run)."
    )
    collision_strategy: CollisionStrategy = Field(
        CollisionStrategy.ENQUEUE, description="What happens to a run that finds the limit full."
    )
    tags: list[Match] = Field(
        default_factory=list,
        max_length=MAX_MATCHES,
        description="Pools only: a run with any of these tags holds one of the pool's slots.",
    )
    node_types: list[Match] = Field(
        default_factory=list,
        max_length=MAX_MATCHES,
        description="Pools only: a run of a flow with a node of any of these types holds a slot.",
    )
    description: str | None = Field(None, max_length=500)


class ConcurrencyLimitRead(ResponseModel):
    kind: LimitKind
    name: str = Field(description="The flow's, the deployment's or the pool's name.")
    slots: int
    collision_strategy: CollisionStrategy
    tags: list[str]
    node_types: list[str]
    description: str | None
    active_slots: int = Field(description="Slots running runs hold now.")
    active_run_ids: list[str] = Field(description="The runs that hold them, oldest first.")
    created_at: datetime
    updated_at: datetime


class ConcurrencyLimitDeleted(ResponseModel):
    kind: LimitKind
    name: str
    deleted: bool = True


ConcurrencyLimitList = Page[ConcurrencyLimitRead]
