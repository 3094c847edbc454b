"""How long the MongoDB store waits, from the run's settings (``config.SETTINGS``, ``BACKLINKS_MONGO_*``).

A replica set elects a new primary in about 10-12 s after the old one goes (the manual's "Replica Set
Elections": ``electionTimeoutMillis`` is 10 s by default, then a catch-up), so an operation waits longer
than that for a server and is retried, instead of failing on a routine failover; the opening check waits
only a few seconds, so a command run against no server says so at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backlinkspider.index.errors import IndexUnavailable


@dataclass(frozen=True, slots=True)
class Limits:
    """Seconds. ``operation``: each operation answered whole (a write batch's step, a lookup, a summary),
    server selection and the write concern's wait included (``pymongo.timeout``); ``stream``: each round
    trip of a streamed read (``socketTimeoutMS``); ``connect``: the opening check."""

    operation: float
    stream: float
    connect: float

    @classmethod
    def from_settings(cls, settings: Any = None) -> Limits:
        """The limits a run's settings give (None: the project's settings and the environment, as every
        ``backlinks`` command builds them)."""
        from backlinkspider import config

        s = config.project_settings() if settings is None else settings
        names = (
            "BACKLINKS_MONGO_TIMEOUT",
            "BACKLINKS_MONGO_STREAM_TIMEOUT",
            "BACKLINKS_MONGO_CONNECT_TIMEOUT",
        )
        try:
            for name in names:
                config.SETTINGS[name].check(s)
        except config.BadSetting as exc:  # an environment variable no command checked: one line
            raise IndexUnavailable(f"cannot open index: {exc}") from None
        operation, stream, connect = (s.getfloat(name) for name in names)
        return cls(operation, stream, connect)

    def client_options(self, uri: str) -> dict[str, Any]:
        """The driver's options, unless the URI sets them: server selection waits out an election for
        every operation (the opening check shortens it with ``pymongo.timeout``), and a streamed read's
        every round trip is bounded."""
        given = uri.lower()
        options = {
            "serverSelectionTimeoutMS": int(self.operation * 1000),
            "socketTimeoutMS": int(self.stream * 1000),
        }
        return {name: value for name, value in options.items() if name.lower() not in given}
