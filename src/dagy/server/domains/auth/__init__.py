"""Authentication: login modes, sessions, resolving a bearer token into a principal."""
