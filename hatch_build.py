"""Puts the web app's build in the wheel (docs/web.md).

The build (`npm run build` in web/) is written to src/dagy/server/webapp/, which git ignores. A
wheel or sdist built from a checkout builds it first when it is missing and npm is here, and
refuses to build without it: a wheel without the web app would install a server whose `/` has no
app. `DAGY_WHEEL_WITHOUT_WEB=1` builds one anyway (the server then links the API reference at `/`).
An editable install (`pip install -e .`) reads the folder in place and needs none of this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILD = Path("src/dagy/server/webapp")


class WebAppBuild(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable" or os.environ.get("DAGY_WHEEL_WITHOUT_WEB") == "1":
            return
        root = Path(self.root)
        if not (root / BUILD / "index.html").is_file():
            npm = shutil.which("npm")
            if npm is None or not (root / "web" / "package.json").is_file():
                raise RuntimeError(
                    f"{BUILD} has no build of the web app and npm is not here to make one: run "
                    "`make web` (Node.js 20+), or set DAGY_WHEEL_WITHOUT_WEB=1 for a wheel without it"
                )
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root / "web", check=True)
            subprocess.run([npm, "run", "build"], cwd=root / "web", check=True)
        # git ignores the folder; `artifacts` puts ignored files in the build all the same.
        build_data["artifacts"].append(f"/{BUILD.as_posix()}/**")
