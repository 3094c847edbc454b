"""The two ways a store fails, and the one line each says.

``IndexUnavailable``: the index cannot be reached, read or written now (a lost server, a full disk, a
locked file): the same call may succeed later. ``BadRow``: the index refuses the data itself; no retry
helps. Both carry one line for a person, never a password (``redact``)."""

from __future__ import annotations


class IndexUnavailable(Exception):
    """The index cannot be opened, read or written; the message is one line for a person."""


class BadRow(ValueError):
    """Data the index refuses (a field of the wrong type, text that is not Unicode, a row too large):
    writing it again cannot succeed, unlike ``IndexUnavailable``. ``url``: the page at fault, if known."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line, cut to ``limit`` characters."""
    return " ".join(str(exc).split())[:limit]


def unavailable(verb: str, where: str, exc: BaseException | str) -> IndexUnavailable:
    """``cannot VERB index WHERE: REASON``: the message every backend gives (``where`` redacted)."""
    reason = exc if isinstance(exc, str) else one_line(exc)
    return IndexUnavailable(f"cannot {verb} index {where}: {reason}")
