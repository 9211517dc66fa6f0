"""docs/nodes.md carries the catalogue generated from the definitions, so it lists every type as
the registry serves it. After changing a definition: regenerate the part between the markers
with `python -m dagy.nodes`."""

from __future__ import annotations

from pathlib import Path

from dagy.nodes import NODE_TYPES, builtin_definitions
from dagy.nodes.catalogue import BEGIN, END, catalogue_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "nodes.md"


def test_the_doc_holds_the_generated_catalogue() -> None:
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    assert text[start:end] == catalogue_markdown(builtin_definitions())


def test_the_doc_lists_every_node_type() -> None:
    text = DOC.read_text()
    missing = [name for name in NODE_TYPES if f"#### `{name}`" not in text]
    assert missing == []
