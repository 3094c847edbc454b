"""The one table of settings: every ``BACKLINKS_*`` setting, ``REDIS_URL`` and the Scrapy settings the
project tunes or checks, each with its default, type, bounds or choices, one line of help and the
environment variable that may supply it.

Everything else comes from this table, so that a setting is declared once: ``settings.py`` (the Scrapy
project module) takes its values from ``defaults()``; ``check`` validates a run's settings before anything
starts (a bad ``-s NAME=VALUE`` is one clear line, not a traceback from deep inside a component); the
cluster frontier's add-on fills in ``own_defaults()``; the README's settings table is ``markdown()``
(``python -m backlinkspider.config --markdown``). The environment is read only when a run's settings are
built (``project_settings``; ``scrapy crawl`` calls ``apply_environment``), never at import.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings, Settings

from backlinkspider.index import DEFAULT_INDEX

PREFIX = "BACKLINKS_"
MODULE = "backlinkspider.settings"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

Value = bool | int | float | str | None

_READ: dict[type, Callable[[BaseSettings, str], Any]] = {
    bool: BaseSettings.getbool,
    int: BaseSettings.getint,
    float: BaseSettings.getfloat,
    str: BaseSettings.get,
}
_SHOWN: dict[Value, str] = {None: "unset", "": "empty"}
_KIND = {bool: "true or false", int: "an integer", float: "a number"}  # a str without choices takes anything


class BadSetting(ValueError):
    """A setting whose value cannot be used; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting. ``default`` None: the project sets no value (Scrapy's own default, or unset).
    ``minimum`` and ``maximum`` are inclusive, ``positive`` means > 0; ``env`` names the environment
    variable that supplies the value of a run when it is set (``-s`` still wins)."""

    name: str
    type: type
    default: Value
    help: str
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    env: str | None = None

    def check(self, settings: BaseSettings) -> None:
        """Raise BadSetting unless the value, when there is one, is one this setting can take."""
        raw = settings.get(self.name)
        if raw is not None and not self.accepts(settings):
            raise BadSetting(f"{self.name} must be {self.expected()}, not {raw!r}")

    def accepts(self, settings: BaseSettings) -> bool:
        try:
            value = _READ[self.type](settings, self.name)
        except (TypeError, ValueError):
            return False
        if self.choices:
            return str(value) in self.choices
        return not (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.positive and value <= 0)
        )

    def expected(self) -> str:
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        bounds = [
            f">= {self.minimum:g}" if self.minimum is not None else "",
            "> 0" if self.positive else "",
            f"<= {self.maximum:g}" if self.maximum is not None else "",
        ]
        return " ".join([_KIND[self.type], *filter(None, bounds)])

    def shown_default(self) -> str:
        """The default as the README shows it: the environment variable first, when there is one."""
        value = _SHOWN.get(self.default, f"`{self.default}`")
        return f"env `{self.env}`, else {value}" if self.env else value


SETTINGS = {
    s.name: s
    for s in (
        Setting(
            "BACKLINKS_INDEX",
            str,
            DEFAULT_INDEX,
            "where edges are stored (or `--index`)",
            env="BACKLINKS_INDEX",
        ),
        Setting(
            "BACKLINKS_MAX_PAGES_PER_HOST",
            int,
            5000,
            "pages fetched per host at most, so calendars and other traps end (0 = off); in a cluster the"
            " cluster's, kept for the crawl, and a host's queue holds no more than what is left",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_MAX_URL_LENGTH",
            int,
            2048,
            "links to longer URLs are neither stored nor followed (counted: `backlinks/long_urls`; 0 = no limit)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_MAX_LINKS_PER_PAGE",
            int,
            10000,
            "of a page's links, the first this many (document order) are stored and followed; the rest are"
            " counted (`backlinks/links_over_cap`; 0 = no limit)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_MAX_SEGMENT_REPEATS",
            int,
            3,
            "trap guard: URLs whose path repeats one segment this often (`/a/b/a/b/a/b`) are not followed"
            " (0 = off)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_TRAP_HOPS",
            int,
            100,
            "trap guard: URLs more than this many hops deeper than the first link to a URL of the same shape"
            " (path with numbers as #) on the same host are not followed (see [Safety](#safety); 0 = off)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_ALLOW_PRIVATE_ADDRESSES",
            bool,
            False,
            "fetch internal addresses (127/8, 10/8, 169.254.169.254, names resolving to them ...); links to"
            " them are indexed either way",
        ),
        Setting(
            "BACKLINKS_EXTRACT_PROCESSES",
            int,
            2,
            "worker processes extracting links, off the reactor",
            minimum=1,
        ),
        Setting(
            "BACKLINKS_EXTRACT_TIMEOUT",
            float,
            5.0,
            "seconds a page's extraction may take before it is abandoned (worker killed and replaced, page"
            " skipped, `backlinks/extract_timeouts`)",
            positive=True,
        ),
        Setting(
            "BACKLINKS_SCOPE",
            str,
            "all",
            "`all`: follow links to any host; `seeds`: stay on the seeds' registered domains (a cluster worker"
            " reads its own seeds: give every worker the same ones, which the frontier queues once)",
            choices=("all", "seeds"),
        ),
        Setting(
            "BACKLINKS_FOLLOW_NOFOLLOW",
            bool,
            True,
            "follow nofollow links to discover pages (they are indexed as nofollow either way)",
        ),
        Setting("BACKLINKS_KEEP_INTERNAL", bool, False, "also store internal links (same registered domain)"),
        Setting(
            "BACKLINKS_MAX_ANCHOR",
            int,
            500,
            "characters of an anchor text stored; a longer one is cut at a character (not a byte), the"
            " same for every backend, so a summary's top anchors stay small",
            minimum=1,
        ),
        Setting(
            "BACKLINKS_CONTACT_URL",
            str,
            "https://github.com/backlinkspider/backlinkspider",
            "who runs this crawler, so site owners can reach you: the User-Agent is"
            " `backlinkspider/VERSION (+URL)` unless `USER_AGENT` is set",
        ),
        Setting("BACKLINKS_BATCH_SIZE", int, 2000, "edges per index transaction", minimum=1),
        Setting(
            "BACKLINKS_FLUSH_SECONDS", float, 5.0, "the longest edges wait before being written", minimum=0
        ),
        Setting(
            "BACKLINKS_LOST_AFTER_FAILURES",
            int,
            3,
            "failed crawls in a row (404, 410, 5xx, a gone host) after which a page's links count as lost;"
            " one failure is a blip",
            minimum=1,
        ),
        Setting(
            "BACKLINKS_WRITE_RETRY_SECONDS",
            float,
            300.0,
            "index writes that keep failing are retried with backoff this long (the crawl pauses"
            " meanwhile), then the crawl stops and exits 1 with the count of pages not indexed",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_MONGO_TIMEOUT",
            float,
            12.0,
            "MongoDB: seconds each operation answered whole (a write, a lookup, a summary) may take, waiting"
            " for a primary included; longer than a replica set election (about 10-12 s) so a failover is"
            " ridden out, short enough for a web client's patience; a write concern no set can satisfy fails"
            " after it (the URI's `timeoutMS` is not used)",
            positive=True,
            env="BACKLINKS_MONGO_TIMEOUT",
        ),
        Setting(
            "BACKLINKS_MONGO_STREAM_TIMEOUT",
            float,
            600.0,
            "MongoDB: seconds each batch of a streamed read (export, graph, listings) may take; a whole-index"
            " grouping (`rank`'s graph) computes its first batch in one (the URI's `socketTimeoutMS` wins)",
            positive=True,
            env="BACKLINKS_MONGO_STREAM_TIMEOUT",
        ),
        Setting(
            "BACKLINKS_MONGO_CONNECT_TIMEOUT",
            float,
            5.0,
            "MongoDB: seconds the opening check waits for a server, so a command fails fast when none answers",
            positive=True,
            env="BACKLINKS_MONGO_CONNECT_TIMEOUT",
        ),
        Setting(
            "BACKLINKS_PSL_FILE",
            str,
            "",
            "a newer `public_suffix_list.dat` to decide sites with, read offline (the environment variable"
            " also reaches the query commands); empty: the shipped list",
            env="BACKLINKS_PSL_FILE",
        ),
        Setting(
            "BACKLINKS_PROGRESS",
            bool,
            False,
            "live progress line on stderr (`backlinks crawl` turns it on)",
        ),
        Setting(
            "REDIS_URL",
            str,
            None,
            "the cluster frontier: `redis://[:PASSWORD@]HOST:PORT/DB`, or `rediss://` for TLS; unset ="
            " Scrapy's own scheduler, one process",
            env="REDIS_URL",
        ),
        Setting(
            "BACKLINKS_IDLE_TIMEOUT",
            float,
            300,
            "cluster: a worker with no work closes after this many seconds (0 = never)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_HEARTBEAT_TTL",
            float,
            15,
            "cluster: a worker beats every TTL/5 s; one whose heartbeat has been missing this long while"
            " Redis was up is dead, and its leased requests go back to the frontier (the first worker's value"
            " is the cluster's: a worker asking for another stops with one error line)",
            positive=True,
        ),
        Setting(
            "BACKLINKS_REDIS_BACKOFF_MAX",
            float,
            5.0,
            "cluster: while Redis cannot be reached (or answers OOM, BUSY, READONLY ...) every call is tried"
            " again after 0.2 s, the wait doubling up to this many seconds",
            positive=True,
        ),
        Setting(
            "BACKLINKS_HOST_DELAY",
            float,
            1.0,
            "cluster: seconds between two requests to one host, across all workers: the frontier pops a"
            " host's next request only this long after its last (0 = off; the first worker's value is the"
            " cluster's)",
            minimum=0,
        ),
        Setting(
            "BACKLINKS_DUPEFILTER",
            str,
            "auto",
            "cluster: which URLs were seen: `set` (exact, about 70 bytes of Redis per URL), `bloom` (1.8"
            " bytes per URL of BACKLINKS_BLOOM_CAPACITY at 0.1%, allocated at once) or `auto`: the set for a"
            " capacity up to 1,000,000 URLs, the Bloom filter past it",
            choices=("auto", "set", "bloom"),
        ),
        Setting(
            "BACKLINKS_BLOOM_CAPACITY",
            int,
            100_000_000,
            "cluster: URLs the crawl may see, what the Bloom filter is sized for (and `auto` chooses by)",
            minimum=1,
        ),
        Setting(
            "BACKLINKS_BLOOM_ERROR_RATE",
            float,
            0.001,
            "cluster, bloom: false-positive rate at capacity (a false positive is a URL never crawled)",
            positive=True,
            maximum=0.5,
        ),
        Setting(
            "BACKLINKS_FRONTIER_SHARDS",
            int,
            16,
            "cluster: the frontier's shards, each host's keys in one by a hash of its name, each shard one"
            " hash slot of a Redis Cluster (several per primary spread the load; the first worker's or seed's"
            " value is the cluster's)",
            minimum=1,
            maximum=1024,
        ),
        Setting(
            "BACKLINKS_FRONTIER_BATCH",
            int,
            500,
            "cluster: requests pushed to Redis per round trip",
            minimum=1,
        ),
        Setting(
            "BACKLINKS_INGEST_ATTEMPTS",
            int,
            3,
            "cluster ingest: a file that could not be fetched whole (HTTP 5xx or 429, a network error, a"
            " cut download) is tried this many times, then recorded failed; a bad file (not WARC, broken"
            " gzip, HTTP 4xx) fails at once",
            minimum=1,
        ),
        # Scrapy's, as the project tunes them for a polite broad crawl; Scrapy would fail on a bad value
        # with a traceback.
        Setting(
            "LOG_LEVEL",
            str,
            "INFO",
            "Scrapy's log level (`backlinks crawl` logs at `WARNING` so the progress line stays readable)",
            choices=LOG_LEVELS,
        ),
        Setting("ROBOTSTXT_OBEY", bool, True, "obey robots.txt"),
        Setting("AUTOTHROTTLE_ENABLED", bool, True, "AutoThrottle: adapt the delay to each host's latency"),
        Setting("AUTOTHROTTLE_START_DELAY", float, 1.0, "AutoThrottle: the first delay per host", minimum=0),
        Setting("AUTOTHROTTLE_MAX_DELAY", float, 30.0, "AutoThrottle: the longest delay per host", minimum=0),
        Setting(
            "AUTOTHROTTLE_TARGET_CONCURRENCY",
            float,
            1.0,
            "AutoThrottle: requests in flight per host it aims at",
            positive=True,
        ),
        Setting("DOWNLOAD_DELAY", float, 0.5, "seconds between two requests to one host", minimum=0),
        Setting("CONCURRENT_REQUESTS", int, 64, "requests in flight at most", minimum=1),
        Setting("CONCURRENT_REQUESTS_PER_DOMAIN", int, 2, "requests in flight per domain at most", minimum=1),
        Setting("DOWNLOAD_TIMEOUT", float, 30, "seconds a download may take", positive=True),
        Setting("DOWNLOAD_MAXSIZE", int, 10 * 1024 * 1024, "bytes of a response at most", minimum=0),
        Setting(
            "DOWNLOAD_WARNSIZE", int, 2 * 1024 * 1024, "bytes of a response that log a warning", minimum=0
        ),
        Setting("RETRY_TIMES", int, 2, "retries of a failed request", minimum=0),
        Setting("COOKIES_ENABLED", bool, False, "cookies"),
        Setting(
            "REFERRER_POLICY",
            str,
            "same-origin",
            "Scrapy's Referer policy (W3C Referrer Policy): a page's URL to its own site, none to another. A"
            " crawler's Referer shows in a site's analytics as a visit from the linking site that nobody"
            " made (referrer spam), and search engines' crawlers send none; the frontier stores what is"
            " sent with every link (Scrapy's own default sends the whole URL everywhere)",
        ),
        Setting("TELNETCONSOLE_ENABLED", bool, False, "Scrapy's telnet console"),
        Setting(
            "REMOTE_CONTROL_ENABLED",
            bool,
            False,
            "Scrapy's remote-control HTTP server (it runs Python sent to it)",
        ),
        Setting(
            "REDIRECT_ENABLED",
            bool,
            False,
            "Scrapy's redirects: off, as the spider reads 3xx responses itself (each is an edge, then a request)",
        ),
        Setting(
            "METAREFRESH_ENABLED",
            bool,
            False,
            "Scrapy's meta refreshes: off, as the spider reads them itself (each is an edge, then a request)",
        ),
        Setting(
            "CLOSESPIDER_ITEMCOUNT",
            int,
            None,
            "Scrapy's: stop after this many pages (`--max-pages` and `-a max_pages` set it; 0 = no limit)",
            minimum=0,
        ),
        Setting(
            "CLOSESPIDER_TIMEOUT",
            float,
            None,
            "Scrapy's: stop after this many seconds (0 = no limit)",
            minimum=0,
        ),
    )
}


def defaults() -> dict[str, Value]:
    """The value of every setting the project sets: settings.py takes them."""
    return {s.name: s.default for s in SETTINGS.values() if s.default is not None}


def environment() -> dict[str, str]:
    """The settings the environment supplies, read now: a run's, never an import's."""
    return {s.name: os.environ[s.env] for s in SETTINGS.values() if s.env and s.env in os.environ}


def own_defaults() -> dict[str, Value]:
    """The project's own settings (``BACKLINKS_*``, ``REDIS_URL``) as the environment leaves them: what the
    frontier's add-on gives a Scrapy project that is not ours."""
    ours = {**defaults(), **environment()}
    return {name: value for name, value in ours.items() if name.startswith(PREFIX) or name == "REDIS_URL"}


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """A run's settings in Scrapy's priority order: the project module, then the environment, then
    ``overrides`` (priority "cmdline", as ``-s`` is). Every ``backlinks`` command and the API build theirs
    here."""
    settings = Settings()
    settings.setmodule(MODULE, priority="project")
    apply_environment(settings)
    settings.setdict(dict(overrides or {}), priority="cmdline")
    return settings


def apply_environment(settings: BaseSettings) -> None:
    """Give a run's settings the values the environment supplies, at priority "project" after the project
    module (as Scrapy applies its own ``SCRAPY_*`` variables): ``-s`` and a spider's own settings win."""
    settings.setdict(environment(), priority="project")


def check(settings: BaseSettings) -> list[str]:
    """Raise BadSetting for the first setting (by name) with a value it cannot take; return one warning
    per unknown ``BACKLINKS_*`` name (likely a typo)."""
    for name in sorted(SETTINGS):
        SETTINGS[name].check(settings)
    unknown = [
        name for name in sorted(settings.attributes) if name.startswith(PREFIX) and name not in SETTINGS
    ]
    return [_warning(name) for name in unknown]


def _warning(name: str) -> str:
    close = difflib.get_close_matches(name, SETTINGS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown setting {name}{hint}: ignored"


def markdown() -> str:
    """The README's settings table."""
    rows = [f"| `{s.name}` | {s.shown_default()} | {s.help} |" for s in SETTINGS.values()]
    return "\n".join(["| setting | default | meaning |", "| --- | --- | --- |", *rows]) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backlinkspider.config", description=__doc__)
    parser.add_argument("--markdown", action="store_true", required=True, help="print the README's table")
    parser.parse_args(argv)
    print(markdown(), end="")


if __name__ == "__main__":
    main()
