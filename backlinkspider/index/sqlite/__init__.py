"""The embedded SQLite backend: ``schema.py`` (tables, triggers, write statements), ``store.py``."""

from backlinkspider.index.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
