"""The org's objects over HTTP (`/objects`): the data files its flows read and write in the object
store (`dagy/data/<org_id>/` of `DAGY_HOME/objects`). No table: the files are the data."""
