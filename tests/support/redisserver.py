"""A private redis-server per test (the project's rule: no fakeredis, and never the shared one on 6379)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from backlinkspider.frontier.queue import REDIS_ENCODINGS


class RedisServer:
    """A private redis-server on a free loopback port, stopped by its pid: tests never touch shared state."""

    def __init__(
        self, directory: Path, password: str | None = None, persist: bool = False, tls: bool = False
    ) -> None:
        self.directory = directory
        self.password = password
        self.persist = persist
        self.proc: subprocess.Popen | None = None
        self.tls = tls
        self.started = False
        self.cert = directory / "redis.pem"
        self._pick_port()
        if tls:  # a self-signed certificate for 127.0.0.1, trusted by the client through the URL
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

    def _pick_port(self) -> None:
        """A port free now (another test may take it before redis-server binds it: ``start`` then picks
        again), and the URL to it."""
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        auth = f":{self.password}@" if self.password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        if self.tls:
            self.url = f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    def start(self) -> RedisServer:
        """Start it (again, after ``stop``, on the same port) and wait until it answers; it is ours when the
        server answering reports our process id (tests run in parallel, each with its own servers)."""
        for _ in range(5):
            if self._start_once():
                self.started = True
                return self
            if self.started:  # a restart keeps its port: the clients know it
                break
            self._pick_port()  # the port was taken between picking and binding
        raise RuntimeError(f"redis-server did not start on port {self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        return log.read_text()[-2000:] if log.exists() else "no log"

    def _start_once(self) -> bool:
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
            # the encodings the README asks of a frontier's Redis
            *(x for name, value in REDIS_ENCODINGS.items() for x in (f"--{name}", value)),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30  # loading an append-only file on a busy machine
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if client.info("server")["process_id"] == self.proc.pid:
                    return True
            except redis.RedisError:  # not yet listening, loading, or another test's server (a password)
                pass
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
