"""`python -m dagy.nodes`: print the built-in catalogue (the generated part of docs/nodes.md)."""

from __future__ import annotations

import sys

from dagy.nodes import builtin_definitions
from dagy.nodes.catalogue import catalogue_markdown

if __name__ == "__main__":
    sys.stdout.write(catalogue_markdown(builtin_definitions()))
