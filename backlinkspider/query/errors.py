"""The errors a person's question can end in; the CLI and the API map each to its one line."""

from __future__ import annotations


class BadTarget(ValueError):
    """Input that is not a target, a date, a domain or a cursor of this tool (a usage error)."""


class NoBacklinks(LookupError):
    """The target has no backlinks in the index (nor lost ones in the last 30 days)."""
