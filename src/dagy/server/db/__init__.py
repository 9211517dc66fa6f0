"""Database: models, engine, dialect-specific statements and migrations."""
