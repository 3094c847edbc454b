"""Settings validation: every ``BACKLINKS_*`` setting, and the Scrapy settings the project tunes, checked
against one table before a crawl starts, so a bad ``-s NAME=VALUE`` is one clear line, not a traceback
from deep inside a component.

``backlinks crawl`` and ``scrapy crawl`` (the project's crawl command, ``backlinkspider/commands``) call
``check`` before they start anything. A ``BACKLINKS_*`` setting in settings.py without a row here is
checked against the type of its default; a ``BACKLINKS_*`` name that settings.py does not define is a
warning (likely a typo), not an error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

PREFIX = "BACKLINKS_"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class BadSetting(ValueError):
    """A setting whose value cannot be used; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting's type (int, float, bool or str) and the values it may take: ``minimum`` and
    ``maximum`` inclusive, ``positive`` for > 0, or one of ``choices``."""

    name: str
    type: type
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()

    def check(self, settings: BaseSettings) -> None:
        raw = settings.get(self.name)
        if raw is None:
            return
        try:
            if self.type is bool:
                settings.getbool(self.name)
                return
            value = settings.getint(self.name) if self.type is int else settings.getfloat(self.name)
        except (TypeError, ValueError):
            value = None
        if self.type is str:
            if self.choices and str(raw) not in self.choices:
                raise BadSetting(f"{self.name} must be one of {', '.join(self.choices)}, not {raw!r}")
            return
        if (
            value is None
            or (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.positive and value <= 0)
        ):
            raise BadSetting(f"{self.name} must be {self.expected()}, not {raw!r}")

    def expected(self) -> str:
        what = {int: "an integer", float: "a number", bool: "true or false"}[self.type]
        bounds = [
            f">= {self.minimum:g}" if self.minimum is not None else "",
            "> 0" if self.positive else "",
            f"<= {self.maximum:g}" if self.maximum is not None else "",
        ]
        return " ".join([what, *filter(None, bounds)])


# One row per setting the project reads; the defaults and their documentation are in settings.py.
SETTINGS = {
    s.name: s
    for s in (
        Setting("BACKLINKS_INDEX", str),
        Setting("BACKLINKS_MAX_PAGES_PER_HOST", int, minimum=0),
        Setting("BACKLINKS_MAX_URL_LENGTH", int, minimum=0),
        Setting("BACKLINKS_MAX_SEGMENT_REPEATS", int, minimum=0),
        Setting("BACKLINKS_SCOPE", str, choices=("all", "seeds")),
        Setting("BACKLINKS_FOLLOW_NOFOLLOW", bool),
        Setting("BACKLINKS_KEEP_INTERNAL", bool),
        Setting("BACKLINKS_CONTACT_URL", str),
        Setting("BACKLINKS_BATCH_SIZE", int, minimum=1),
        Setting("BACKLINKS_FLUSH_SECONDS", float, minimum=0),
        Setting("BACKLINKS_LOST_AFTER_FAILURES", int, minimum=1),
        Setting("BACKLINKS_WRITE_RETRY_SECONDS", float, minimum=0),
        Setting("BACKLINKS_IDLE_TIMEOUT", float, minimum=0),
        Setting("BACKLINKS_HOST_DELAY", float, minimum=0),
        Setting("BACKLINKS_DUPEFILTER", str, choices=("set", "bloom")),
        Setting("BACKLINKS_BLOOM_CAPACITY", int, minimum=1),
        Setting("BACKLINKS_BLOOM_ERROR_RATE", float, positive=True, maximum=0.5),
        Setting("BACKLINKS_FRONTIER_BATCH", int, minimum=1),
        Setting("BACKLINKS_PROGRESS", bool),
        Setting("BACKLINKS_HEARTBEAT_TTL", float, positive=True),
        Setting("BACKLINKS_REDIS_BACKOFF_MAX", float, positive=True),
        Setting("BACKLINKS_PSL_FILE", str),
        Setting("BACKLINKS_TRAP_HOPS", int, minimum=0),
        Setting("BACKLINKS_ALLOW_PRIVATE_ADDRESSES", bool),
        Setting("BACKLINKS_EXTRACT_PROCESSES", int, minimum=1),
        Setting("BACKLINKS_EXTRACT_TIMEOUT", float, positive=True),
        Setting("BACKLINKS_MAX_LINKS_PER_PAGE", int, minimum=0),
        # Scrapy's, as the project tunes them (settings.py); Scrapy would fail on these with a traceback.
        Setting("LOG_LEVEL", str, choices=LOG_LEVELS),
        Setting("ROBOTSTXT_OBEY", bool),
        Setting("AUTOTHROTTLE_ENABLED", bool),
        Setting("AUTOTHROTTLE_START_DELAY", float, minimum=0),
        Setting("AUTOTHROTTLE_MAX_DELAY", float, minimum=0),
        Setting("AUTOTHROTTLE_TARGET_CONCURRENCY", float, positive=True),
        Setting("DOWNLOAD_DELAY", float, minimum=0),
        Setting("CONCURRENT_REQUESTS", int, minimum=1),
        Setting("CONCURRENT_REQUESTS_PER_DOMAIN", int, minimum=1),
        Setting("DOWNLOAD_TIMEOUT", float, positive=True),
        Setting("DOWNLOAD_MAXSIZE", int, minimum=0),
        Setting("DOWNLOAD_WARNSIZE", int, minimum=0),
        Setting("RETRY_TIMES", int, minimum=0),
        Setting("COOKIES_ENABLED", bool),
        Setting("CLOSESPIDER_ITEMCOUNT", int, minimum=0),
        Setting("CLOSESPIDER_TIMEOUT", float, minimum=0),
    )
}


def check(settings: BaseSettings) -> list[str]:
    """Raise BadSetting for the first setting with a value it cannot take; return one warning per
    unknown ``BACKLINKS_*`` name."""
    from backlinkspider import settings as defaults

    known = dict(SETTINGS)
    for name in dir(defaults):  # a setting added to settings.py before its row: checked by its type
        value = getattr(defaults, name)
        if name.startswith(PREFIX) and name not in known and isinstance(value, (bool, int, float, str)):
            known[name] = Setting(name, type(value))
    warnings = []
    for name in sorted(settings.attributes):
        if name in known:
            known[name].check(settings)
        elif name.startswith(PREFIX):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"unknown setting {name}{hint}: ignored")
    return warnings
