"""`dagy.yaml`: what `dagy deploy` registers (docs/cli.md, "dagy.yaml").

```yaml
name: hello                    # the flow
entrypoint: hello_flow:hello   # module:function, the module relative to the project folder
version: null                  # a label of your own; default: the next integer
namespace: examples
tags: {team: data}
secrets: [SLACK_TOKEN]         # what the code reads with dagy.secrets.get
deployments:
  hello:                       # the default deployment when the file has one
    environment: null
    schedule: "0 6 * * *"
    timezone: Europe/Paris
    executor: null
    execution_mode: nano
    tags: {}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dagy.cli.exits import CliError, ExitCode

FILE_NAME = "dagy.yaml"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"
ENTRYPOINT = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
ExecutionMode = Literal["nano", "micro", "small", "medium", "large", "xlarge"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentConfig(Strict):
    environment: str | None = Field(None, description="An existing environment of the org.")
    schedule: str | None = Field(None, description="5-field cron, or an interval such as 30m.")
    timezone: str | None = Field(None, description="IANA time zone of the cron schedule.")
    executor: str | None = Field(None, description="A backend from GET /v1/backends.")
    execution_mode: ExecutionMode | None = None
    tags: dict[str, str] | None = Field(None, description="The deployment's tags; default: the flow's.")


class Manifest(Strict):
    name: str = Field(pattern=NAME)
    entrypoint: str = Field(pattern=ENTRYPOINT)
    version: str | None = Field(None, pattern=VERSION)
    namespace: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    deployments: dict[str, DeploymentConfig] = Field(default_factory=dict)

    def deployment(self, name: str | None) -> tuple[str, DeploymentConfig]:
        """The named deployment, the file's only one, or one named after the flow."""
        if name is not None:
            return name, self.deployments.get(name, DeploymentConfig())
        if len(self.deployments) == 1:
            return next(iter(self.deployments.items()))
        if not self.deployments:
            return self.name, DeploymentConfig()
        listed = ", ".join(sorted(self.deployments))
        raise CliError(f"{FILE_NAME} has several deployments ({listed}): choose one with --deployment")

    def flow_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"entrypoint": self.entrypoint}
        if self.secrets:
            spec["secrets"] = list(self.secrets)
        return spec


def load(folder: Path) -> Manifest:
    import yaml

    path = folder / FILE_NAME
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise CliError(
            f"no {FILE_NAME} in {folder}: run `dagy init` there first", code=ExitCode.USAGE
        ) from exc
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML: {exc}", code=ExitCode.USAGE) from exc
    if not isinstance(raw, dict):
        raise CliError(f"{path} must be a mapping (name:, entrypoint:, ...)", code=ExitCode.USAGE)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        details = {".".join(str(p) for p in e["loc"]) or "(file)": e["msg"] for e in exc.errors()}
        raise CliError(f"{path} is not a valid {FILE_NAME}", code=ExitCode.USAGE, details=details) from exc
