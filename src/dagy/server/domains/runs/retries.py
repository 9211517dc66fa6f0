"""Running a run again: a retry of the same run, or a rerun as a new one (docs/runs.md, "Retry and
rerun").

- A retry (`retry_run`) sends a run that failed or was cancelled back to the queue. It is the same
  run: its next attempt resumes after the nodes earlier attempts completed (`completed_nodes` in
  the claim), so what succeeded is not computed again. Orchestration decides whether the run may
  go back (`RetryUnfinishedRunsOnRequest`) and resets what its end had set.
- A rerun (`rerun_run`) is a new run of the same flow version, deployment and settings, with the
  original's parameters and any the request overrides, created by the one trigger path and tagged
  `rerun_of:<run id>`: a tag, so the origin needs no column and shows wherever tags do.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Run, RunLog
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.schemas import RunRerun, RunRetried, RunTrigger, RunTriggered
from dagy.server.domains.runs.trigger import trigger_rerun
from dagy.server.domains.usage import quota
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.orchestration import RETRYABLE_RUN_STATES, RunState, set_run_state
from dagy.server.settings import Settings

RERUN_TAG_PREFIX = "rerun_of:"
MAX_TAGS = 20  # `RunTrigger.tags`' own limit


def retry_run(session: Session, *, actor: Actor, run_id: str) -> RunRetried:
    """Queue a failed or cancelled run again (409 for any other), within the org's concurrent-run
    limit (429): a retry is not a new run, so the monthly count does not change."""
    run = _locked_run(session, actor, run_id)
    before = {"status": run.status, "retry_count": run.retry_count}
    now = utcnow()
    if run.status in RETRYABLE_RUN_STATES:  # orchestration refuses the others (409) before any quota
        quota.admit_requeue(session, org_id=run.org_id, now=now)
    set_run_state(session, run, RunState.QUEUED, now=now, requested=True)
    message = (
        f"[INFO] Retry requested by {actor.email or actor.actor_type} after the run was "
        f"{before['status']}; attempt {run.attempt + 1} is queued"
    )
    repo.add_logs(
        session,
        [RunLog(run_id=run.id, attempt=run.attempt, timestamp=now, ingestion_time=now, message=message)],
    )
    record(
        session,
        actor=actor,
        action=Action.EXECUTE,
        resource_type="run",
        resource_id=run.id,
        resource_name=run.run_slug,
        changes=diff(before, {"status": run.status, "retry_count": run.retry_count}),
    )
    return RunRetried(run_id=run.id, status=run.status, attempt=run.attempt, retry_count=run.retry_count)


def rerun_run(
    session: Session, *, actor: Actor, run_id: str, data: RunRerun, settings: Settings
) -> RunTriggered:
    """A new run of `run_id`'s flow version with its settings and parameters, `data.parameters`
    merged over them; checked, counted and audited as any trigger."""
    original = _run(session, actor, run_id)
    trigger = RunTrigger.model_validate(
        {
            "flow_name": original.flow_name,
            "flow_version": original.flow_version,
            "parameters": {**(original.parameters or {}), **data.parameters},
            "executor": original.executor,
            "execution_mode": original.execution_mode,
            "tags": _rerun_tags(original),
            "max_retries": original.max_retries,
            "priority": original.priority,
        }
    )
    return trigger_rerun(
        session, actor=actor, data=trigger, deployment_name=original.deployment_name, settings=settings
    )


def _rerun_tags(original: Run) -> list[str]:
    """The original's tags and `rerun_of:<its id>`, replacing the tag of the run it was itself a
    rerun of: a run names the run it was started from."""
    kept = [str(tag) for tag in original.tags or [] if not str(tag).startswith(RERUN_TAG_PREFIX)]
    if len(kept) >= MAX_TAGS:
        raise InvalidInput(
            f"The run has {len(kept)} tags; a rerun adds {RERUN_TAG_PREFIX}<run id> and may have {MAX_TAGS}.",
            details={"tags": f"at most {MAX_TAGS - 1} besides {RERUN_TAG_PREFIX}"},
        )
    return [*kept, f"{RERUN_TAG_PREFIX}{original.id}"]


def _run(session: Session, actor: Actor, run_id: str) -> Run:
    run = repo.get_run_by_id_or_slug(session, actor.org_id, run_id)
    if run is None:
        raise NotFound("Run not found.")
    return run


def _locked_run(session: Session, actor: Actor, run_id: str) -> Run:
    """The run, its row taken for the transaction: two retries, or a retry and a worker's late
    report, change it one after the other."""
    run = repo.get_run_by_id_or_slug(session, actor.org_id, run_id, lock=True)
    if run is None:
        raise NotFound("Run not found.")
    return run
