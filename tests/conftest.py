"""Shared fixtures: the synthetic web behind a forward proxy, and running the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthweb import HUB, ProxyServer, SyntheticWeb

BACKLINKS = [sys.executable, "-m", "backlinkspider.cli"]
# Full speed against our own server: politeness is tested on its own, not paid for in every test.
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
CALENDAR_BUDGET = 25


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BACKLINKS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


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

    def _crawl(*extra: str, db: Path | None = None, seeds: tuple[str, ...] = (HUB,)) -> tuple[str, list[dict]]:
        uri = f"sqlite:///{db or tmp_path / 'links.db'}"
        web.reset_log()
        res = run_cli(
            "crawl", *seeds, "--index", uri, *FAST,
            "-s", f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}", *extra, env=proxy_env,
        )
        assert res.returncode == 0, res.stderr
        out = run_cli("export", "--index", uri)
        assert out.returncode == 0, out.stderr
        return uri, [json.loads(line) for line in out.stdout.splitlines()]

    return _crawl


def edge_key(d: dict) -> tuple:
    """An exported record as the ground truth's fields."""
    return (
        d["source_url"], d["target_url"], d["link_type"], d["anchor_text"], d["nofollow"], d["ugc"],
        d["sponsored"], d["source_domain"], d["target_domain"],
    )
