"""`dagy deploy`: package the project, upload it unless unchanged, point the deployment at it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dagy.cli import output
from dagy.cli.output import Format, OutputOption

if TYPE_CHECKING:
    from dagy.cli.context import Api
    from dagy.cli.manifest import DeploymentConfig, Manifest
    from dagy.cli.package import Package


def deploy(  # noqa: PLR0917 - a typer command: one parameter per option
    path: Annotated[Path, typer.Argument(help="The project folder, holding dagy.yaml.")] = Path(),
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", "-d", help="Which deployment (default: dagy.yaml's only one)."),
    ] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="The deployment's environment.")] = None,
    schedule: Annotated[
        str | None, typer.Option(help='Cron (5 fields) or interval ("30m"); "" removes it.')
    ] = None,
    executor: Annotated[str | None, typer.Option(help="A backend from GET /v1/backends.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="Execution mode: nano, micro, small, medium, large, xlarge.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be uploaded; change nothing.")
    ] = False,
    output_format: OutputOption = Format.table,
) -> None:
    """Deploy the project at PATH: zip it (deterministically), upload it unless the deployment's
    current version has the same code_hash, register the flow version and point the deployment at it.

    Examples:

      dagy deploy

      dagy deploy ./hello --deployment hello-prod --env production --schedule "0 6 * * *"

      dagy deploy --dry-run
    """
    from dagy.cli.manifest import DeploymentConfig, load
    from dagy.cli.package import build

    root = path.resolve()
    manifest = load(root)
    name, configured = manifest.deployment(deployment)
    overrides = {"environment": env, "schedule": schedule, "executor": executor, "execution_mode": mode}
    settings = DeploymentConfig.model_validate(
        configured.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    )
    package = build(root)
    if dry_run:
        _show_dry_run(package, name, output_format)
        return
    from dagy.cli.context import connect

    with connect() as api:
        answer = _deploy(api, manifest, name, settings, package)
    if output_format is Format.json:
        output.print_json(answer)
    else:
        output.record(answer, title=f"deployment {name}")


def _deploy(
    api: Api, manifest: Manifest, name: str, settings: DeploymentConfig, package: Package
) -> dict[str, Any]:
    from dagy.cli.upload import upload_artifact

    current = _get_or_none(api, f"/deployments/{name}")
    if current is not None and current.get("flow_name") == manifest.name:
        version = _get_or_none(api, f"/flows/{manifest.name}/{current['flow_version']}")
        if version is not None and version.get("code_hash") == package.code_hash:
            output.note(
                f"[green]unchanged[/green]: deployment {name} already runs {manifest.name} "
                f"version {current['flow_version']} with this code (sha256 {package.code_hash[:12]}); "
                "nothing uploaded"
            )
            return _sync_settings(api, name, current, settings) | {"code_hash": package.code_hash}
    label = manifest.version or next_version_label(api, manifest.name)
    output.note(f"uploading {_size(package.size)} as {manifest.name} version {label} ...")
    target = {"flow_name": manifest.name, "flow_version": label, "deployment_name": name}
    registration = {
        "status": "active",
        "flow_spec": manifest.flow_spec(),
        "code_hash": package.code_hash,
        "schedule": settings.schedule or None,
        "timezone": settings.timezone,
        "default_executor": settings.executor,
        "execution_mode": settings.execution_mode,
        "environment": settings.environment,
        "namespace": manifest.namespace,
        "tags": settings.tags if settings.tags is not None else manifest.tags or None,
    }
    answer = upload_artifact(
        api,
        package.data,
        target=target,
        registration={k: v for k, v in registration.items() if v is not None},
    )
    if settings.schedule == "":  # an upload keeps the deployment's schedule unless told otherwise
        api.call("PUT", f"/deployments/{name}/settings", json={"schedule": ""})
    output.success(
        f"deployed {manifest.name} version {answer.get('flow_version', label)} "
        f"to {name} (deployment version {answer.get('deployment_version', '?')})"
    )
    return dict(answer)


def _sync_settings(
    api: Api, name: str, current: dict[str, Any], settings: DeploymentConfig
) -> dict[str, Any]:
    """Apply dagy.yaml's settings that differ from the deployment's, without a new version."""
    wanted = {
        "schedule": settings.schedule,
        "default_executor": settings.executor,
        "execution_mode": settings.execution_mode,
        "tags": settings.tags,
    }
    changed = {k: v for k, v in wanted.items() if v is not None and current.get(k) != (v or None)}
    if not changed:
        return current
    output.note(f"updating the deployment's {', '.join(sorted(changed))}")
    answer: dict[str, Any] = api.call("PUT", f"/deployments/{name}/settings", json=changed)
    return answer


def next_version_label(api: Api, flow_name: str) -> str:
    """What the server itself would choose (docs/flows.md): the integer after the newest version's
    `deployment_version`, skipping labels already taken."""
    labels: set[str] = set()
    newest = 0
    token: str | None = None
    while True:
        page = _get_or_none(api, f"/flows/{flow_name}/versions", limit=100, next_token=token)
        if page is None:
            return "1"
        for item in page.get("items", []):
            labels.add(str(item["flow_version"]))
            newest = max(newest, int(item.get("deployment_version") or 0))
        token = page.get("next_token")
        if not token:
            break
    number = newest + 1
    while str(number) in labels:
        number += 1
    return str(number)


def _get_or_none(api: Api, path: str, **params: Any) -> Any:
    from dagy.client import ApiError

    try:
        return api.get(path, **params)
    except ApiError as exc:
        if exc.status_code == 404:
            return None
        raise


def _show_dry_run(package: Package, deployment: str, output_format: Format) -> None:
    if output_format is Format.json:
        output.print_json(
            {
                "deployment_name": deployment,
                "files": [{"path": p, "size": s} for p, s in package.files],
                "zip_size": package.size,
                "code_hash": package.code_hash,
            }
        )
        return
    output.table(({"path": p, "size": _size(s)} for p, s in package.files), ["path", "size"])
    output.out.print(
        f"{len(package.files)} files, {_size(package.size)} zipped, sha256 {package.code_hash}; "
        f"deployment {deployment} (dry run: nothing uploaded)"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover
