#!/usr/bin/env sh
# The peers the SDK benchmark compares against, each in a venv of its own so their dependencies
# never touch Dagy's: bench/peers/.venv-prefect holds Prefect 3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
if [ ! -x "$here/.venv-prefect/bin/python" ]; then
    "$python" -m venv "$here/.venv-prefect"
fi
"$here/.venv-prefect/bin/pip" install --quiet --upgrade pip
"$here/.venv-prefect/bin/pip" install --quiet 'prefect>=3,<4'
"$here/.venv-prefect/bin/python" -c 'import prefect; print("prefect", prefect.__version__)'
