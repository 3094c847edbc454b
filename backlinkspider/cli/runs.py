"""What the commands that run crawlers share: a run's settings, the seeds, the cluster's Redis."""

from __future__ import annotations

from typing import Any

import click
from redis import Redis
from scrapy.settings import Settings

from backlinkspider import config
from backlinkspider.cli.options import Failure, warn
from backlinkspider.crawl.seeds import read_seeds
from backlinkspider.frontier.connection import RedisUnavailable, connect_once
from backlinkspider.redact import redact
from backlinkspider.standards.urls import BadURL


def run_settings(overrides: tuple[str, ...], **command: Any) -> Settings:
    """The run's settings (config.project_settings): the command's own values, then its ``-s NAME=VALUE``
    pairs, which have the last word."""
    pairs = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="-s")
        pairs[name] = value
    return config.project_settings({**command, **pairs})


def check_settings(settings: Settings) -> None:
    """A bad value is a usage error (config.check's one line); an unknown ``BACKLINKS_*`` name a warning."""
    try:
        for warning in config.check(settings):
            warn(warning)
    except config.BadSetting as exc:
        raise click.BadParameter(str(exc), param_hint="-s") from None


def seed_urls(urls: tuple[str, ...], seeds_file: str | None) -> list[str]:
    """The seeds; a bad seeds-file line is a warning with its number, and the other lines are used."""
    try:
        seeds = read_seeds(urls, seeds_file)
    except BadURL as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {seeds_file}: {exc.strerror}", param_hint="--seeds-file"
        ) from None
    for line in seeds.bad_lines:
        warn(f"skipped seed: {line}")
    return seeds.urls


def redis_client(url: str) -> Redis:
    """A connection to the cluster's Redis, checked; a URL that is not Redis's is a usage error."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise click.BadParameter(
            f"{redact(url)!r} is not a Redis URL (redis://HOST:PORT/DB or rediss://...)",
            param_hint="--redis-url",
        )
    try:
        return connect_once(url)
    except RedisUnavailable as exc:
        raise Failure(str(exc)) from None
