"""Write the API's OpenAPI document to a file, built from the app like `generate_client.py` does
(no database, no server running): `python scripts/dump_openapi.py web/openapi.json`. The web app's
`npm run gen:api` runs it, then openapi-typescript (docs/web.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_client import openapi_schema  # the sibling script, found through sys.path


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("openapi.json")
    target.write_text(json.dumps(openapi_schema(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
