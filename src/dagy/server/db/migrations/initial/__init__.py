"""Parts of the initial schema (revision 0001), kept out of `versions/` because Alembic loads
every module there as a revision.

Frozen history, like the revisions themselves: these functions create and drop exactly what
revision 0001 did when it was written. Never edit them to follow a model; change the schema with a
new revision.
"""
