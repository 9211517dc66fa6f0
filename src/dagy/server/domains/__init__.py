"""One package per reference section: router, schemas, service, repository."""
