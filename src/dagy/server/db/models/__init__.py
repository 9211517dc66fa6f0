"""Every model, imported here so `Base.metadata` is complete for Alembic and the app."""

from dagy.server.db.models.ai_studio import AiStudioAttachment, AiStudioSession, AiStudioTurn
from dagy.server.db.models.approvals import RunApproval
from dagy.server.db.models.artifacts import ArtifactUpload
from dagy.server.db.models.audit import AuditLog
from dagy.server.db.models.builder import CustomNode, CustomNodeVersion, DagDraft
from dagy.server.db.models.concurrency import ConcurrencyLimit, ConcurrencySlot
from dagy.server.db.models.credits import CreditEntry
from dagy.server.db.models.deployments import Deployment, Environment
from dagy.server.db.models.flows import Flow, FlowVersion
from dagy.server.db.models.identity import ApiKey, AuthSession, Membership, Org, User
from dagy.server.db.models.notifications import (
    AlertDelivery,
    AlertRule,
    AlertRuleChannel,
    NotificationChannel,
)
from dagy.server.db.models.retention import OrgRetention
from dagy.server.db.models.runs import NodeRun, Run, RunEvent, RunLog
from dagy.server.db.models.secrets import DataKey, Secret
from dagy.server.db.models.triggers import (
    Schedule,
    ScheduleBackfill,
    ScheduleBackfillRun,
    ScheduleFire,
    Sensor,
    SensorEvent,
)
from dagy.server.db.models.usage import BillingEvent, UsageCounter, UsageDaily, UsageMonth, UsageRollup
from dagy.server.db.models.workers import Worker

__all__ = [
    "AiStudioAttachment",
    "AiStudioSession",
    "AiStudioTurn",
    "AlertDelivery",
    "AlertRule",
    "AlertRuleChannel",
    "ApiKey",
    "ArtifactUpload",
    "AuditLog",
    "AuthSession",
    "BillingEvent",
    "ConcurrencyLimit",
    "ConcurrencySlot",
    "CreditEntry",
    "CustomNode",
    "CustomNodeVersion",
    "DagDraft",
    "DataKey",
    "Deployment",
    "Environment",
    "Flow",
    "FlowVersion",
    "Membership",
    "NodeRun",
    "NotificationChannel",
    "Org",
    "OrgRetention",
    "Run",
    "RunApproval",
    "RunEvent",
    "RunLog",
    "Schedule",
    "ScheduleBackfill",
    "ScheduleBackfillRun",
    "ScheduleFire",
    "Secret",
    "Sensor",
    "SensorEvent",
    "UsageCounter",
    "UsageDaily",
    "UsageMonth",
    "UsageRollup",
    "User",
    "Worker",
]
