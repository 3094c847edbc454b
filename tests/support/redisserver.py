"""A private redis-server per test (the project's rule: no fakeredis, and never the shared one on 6379)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from backlinkspider.frontier.queue import REDIS_ENCODINGS


class RedisServer:
    """A private redis-server on a free loopback port, stopped by its pid: tests never touch shared state."""

    def __init__(
        self,
        directory: Path,
        password: str | None = None,
        persist: bool = False,
        tls: bool = False,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.extra = extra
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
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
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

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class RedisClusterServer:
    """A private Redis Cluster of ``nodes`` primaries (no replicas) on free loopback ports, made with
    ``redis-cli --cluster create`` and stopped by pid. ``url`` names its first node (a worker finds the
    others from it); ``nodes`` are the RedisServers, for faults on one."""

    def __init__(self, directory: Path, nodes: int = 3, persist: bool = False) -> None:
        self.nodes = []
        for i in range(nodes):
            node_dir = directory / f"node{i}"
            node_dir.mkdir(parents=True, exist_ok=True)
            extra = ("--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"))
            self.nodes.append(RedisServer(node_dir, persist=persist, extra=extra))
        self.created = False

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def port(self) -> int:
        """The port of the node serving the frontier's global slot (heartbeats, reaping): where a fault
        injected on "the" Redis hits hardest."""
        from backlinkspider.frontier.defaults import HEARTBEATS_KEY

        node = self.client().get_node_from_key(HEARTBEATS_KEY)
        return int(node.port)

    def start(self) -> RedisClusterServer:
        for node in self.nodes:
            node.start()
        if self.created:  # a restart: the nodes know each other from their cluster config files
            return self._wait_ok()
        made = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if made.returncode != 0:
            self.stop()
            raise RuntimeError(
                f"redis-cli --cluster create failed: {made.stdout[-2000:]}{made.stderr[-2000:]}"
            )
        self.created = True
        return self._wait_ok()

    def _wait_ok(self) -> RedisClusterServer:
        import time

        import redis

        deadline = time.monotonic() + 30  # until every node agrees the slots are served
        while time.monotonic() < deadline:
            states = [redis.Redis(port=node.port).cluster("info")["cluster_state"] for node in self.nodes]
            if states == ["ok"] * len(self.nodes):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the cluster did not come up: {states}")

    def client(self):
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(self.url)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


# The frontier's scenarios run on both: ``pytest.mark.parametrize("kind", KINDS)``, ``start_redis(kind, dir)``.
KINDS = ("one Redis", "3-node cluster")


def start_redis(kind: str, directory: Path, persist: bool = False) -> RedisServer | RedisClusterServer:
    """A started private Redis of this kind."""
    if kind == KINDS[0]:
        return RedisServer(directory, persist=persist).start()
    return RedisClusterServer(directory, persist=persist).start()
