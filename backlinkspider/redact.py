"""Credentials out of what is shown: every URI that reaches a log line or an error message goes through
``redact`` (index URIs, Redis URLs)."""

from __future__ import annotations


def redact(uri: str) -> str:
    """A URI fit for logs and messages: any password replaced by ``***``."""
    scheme, sep, rest = uri.partition("://")
    authority, slash, tail = rest.partition("/")
    if sep and "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}{slash}{tail}"
    return uri
