"""Database access: engine and session, declarative base, column types, migrations."""
