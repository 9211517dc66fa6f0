"""`python -m dagy.cli`: the `dagy` command."""

from dagy.cli.main import app

app(prog_name="dagy")
