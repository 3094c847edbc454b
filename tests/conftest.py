"""Shared fixtures (the synthetic web behind a forward proxy, crawling it with the real CLI, a private
redis-server), and the lanes: every test is marked by the folder it is in (``unit``, ``contract``,
``e2e``) and by what it needs (``cluster``, ``chaos``, ``browser``, ``fuzz``, ``slow``), see pyproject.toml.
The helpers the test files share are in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CALENDAR_BUDGET, FAST, export, run_cli
from redisserver import RedisServer
from synthweb import HUB, ProxyServer, SyntheticWeb

LANES = ("unit", "contract", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its lane, the folder under tests/ it is in."""
    root = Path(__file__).parent
    for item in items:
        lane = item.path.relative_to(root).parts[0]
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))


@pytest.fixture(scope="session")
def web() -> SyntheticWeb:
    return SyntheticWeb()


@pytest.fixture(scope="session")
def proxy(web: SyntheticWeb):
    with ProxyServer(web) as server:
        yield server


@pytest.fixture
def proxy_env(proxy: ProxyServer) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env.update(http_proxy=proxy.url, https_proxy=proxy.url)
    return env


@pytest.fixture
def crawl(proxy_env: dict, web: SyntheticWeb, tmp_path: Path):
    """Crawl the synthetic web with ``backlinks crawl``; returns (index URI, the export as dicts)."""

    def _crawl(
        *extra: str, db: Path | None = None, seeds: tuple[str, ...] = (HUB,)
    ) -> tuple[str, list[dict]]:
        uri = f"sqlite:///{db or tmp_path / 'links.db'}"
        web.reset_log()
        res = run_cli(
            "crawl",
            *seeds,
            "--index",
            uri,
            *FAST,
            "-s",
            f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
            *extra,
            env=proxy_env,
        )
        assert res.returncode == 0, res.stderr
        return uri, export(uri)

    return _crawl


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
