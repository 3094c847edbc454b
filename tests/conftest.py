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
FAST = [
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
]
CALENDAR_BUDGET = 25


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*BACKLINKS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


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
        out = run_cli("export", "--index", uri)
        assert out.returncode == 0, out.stderr
        return uri, [json.loads(line) for line in out.stdout.splitlines()]

    return _crawl


def edge_key(d: dict) -> tuple:
    """An exported record as the ground truth's fields."""
    return (
        d["source_url"],
        d["target_url"],
        d["link_type"],
        d["anchor_text"],
        d["nofollow"],
        d["ugc"],
        d["sponsored"],
        d["source_domain"],
        d["target_domain"],
    )


class RedisServer:
    """A private redis-server on a free loopback port, stopped by its pid: tests never touch shared state."""

    def __init__(
        self, directory: Path, password: str | None = None, persist: bool = False, tls: bool = False
    ) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.directory = directory
        self.password = password
        self.persist = persist
        self.proc: subprocess.Popen | None = None
        self.tls = tls
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        if tls:  # a self-signed certificate for 127.0.0.1, trusted by the client through the URL
            self.cert = directory / "redis.pem"
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-keyout",
                    str(directory / "redis.key"),
                    "-out",
                    str(self.cert),
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                ],
                check=True,
                capture_output=True,
            )
            self.url = f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    def start(self) -> RedisServer:
        import time

        port = (
            [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.cert),
                "--tls-key-file",
                str(self.directory / "redis.key"),
                "--tls-auth-clients",
                "no",
            ]
            if self.tls
            else ["--port", str(self.port)]
        )
        args = [
            "redis-server",
            *port,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--logfile",
            "redis.log",
            "--enable-debug-command",  # DEBUG SLEEP: a stall, for the fault tests
            "local",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
