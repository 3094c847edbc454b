"""A private redis-server per test (the project's rule: no fakeredis, and never the shared one on 6379)."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
