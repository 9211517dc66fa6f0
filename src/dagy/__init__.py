"""Dagy: workflow orchestration.

The package root is the public SDK surface. It stays import-light: nothing here pulls in the
server, so a worker host or a script that only defines flows starts fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
