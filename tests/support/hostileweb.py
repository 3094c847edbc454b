"""A small hostile web for the safety tests: pages that attack the crawler (links to internal addresses,
huge, slow, compressed and deeply nested bodies, link floods, traps), served on 127.0.0.1 as an HTTP
forward proxy like tests/support/synthweb.py, plus a plain local server standing for an internal service.

Each resource is a ``Resource`` (status, body, headers) that may also stream slowly or leave out its
Content-Length; every request is logged with its time, so tests can see what was fetched and when.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from scrapy.resolver import ThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from backlinkspider.crawl.resolver import PrivateAddressResolver


@dataclass
class Resource:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0  # seconds before the response starts
    bytes_per_second: float = 0.0  # > 0: trickle the body out
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes


def html(*links: str, extra: str = "") -> bytes:
    anchors = "".join(f'<a href="{href}">link {i}</a>\n' for i, href in enumerate(links))
    return f"<!DOCTYPE html><html><body>\n{anchors}{extra}</body></html>".encode()


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros, gzip-compressed (about 1,000:1)."""
    out = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = b"\0" * (1 << 20)
    parts = [out.compress(chunk) for _ in range(size >> 20)]
    parts.append(out.flush())
    return b"".join(parts)


class Web:
    """Resources by "host/path?query"; anything else is a 404."""

    def __init__(self, resources: dict[str, Resource] | None = None) -> None:
        self.resources = dict(resources or {})
        self.log: list[tuple[float, str, str]] = []  # (time, host, path) of each request
        self.log_lock = threading.Lock()
        self.sent: dict[str, int] = {}  # "host/path" -> body bytes written before the client left

    def lookup(self, host: str, path: str) -> Resource:
        return self.resources.get(host + path) or Resource(404, b"<html><body>not here</body></html>")

    def fetched(self) -> Counter[str]:
        return Counter(f"{host}{path}" for _, host, path in self.log)


class Server:
    """Serve a Web on 127.0.0.1 (port 0), as a forward proxy (``proxy=True``: requests carry absolute
    URLs) or as one plain host; use as a context manager."""

    def __init__(self, web: Web, proxy: bool = True) -> None:
        self.web = web
        handler = type("Handler", (_Handler,), {"web": web, "proxy": proxy})
        self.httpd = _HTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 1024  # a crawler opens many connections at once
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    web: Web
    proxy: bool

    def do_GET(self) -> None:
        if self.proxy:
            if not self.path.startswith("http://"):
                self.send_error(400)
                return
            host, _, path = self.path[len("http://") :].partition("/")
            host, path = host.lower().removesuffix(":80"), "/" + path
        else:
            host, path = f"127.0.0.1:{self.server.server_address[1]}", self.path
        with self.web.log_lock:
            self.web.log.append((time.monotonic(), host, path))
        res = self.web.lookup(host, path)
        if res.delay:
            time.sleep(res.delay)
        self.send_response(res.status)
        for name, value in res.headers.items():
            self.send_header(name, value)
        if res.send_length:
            self.send_header("Content-Length", str(len(res.body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        sent = 0
        step = max(1, int(res.bytes_per_second)) if res.bytes_per_second else 1 << 16
        try:
            for i in range(0, len(res.body), step):
                self.wfile.write(res.body[i : i + step])
                sent += len(res.body[i : i + step])
                if res.bytes_per_second:
                    self.wfile.flush()
                    time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        with self.web.log_lock:
            self.web.sent[host + path] = sent

    def do_CONNECT(self) -> None:
        self.send_error(502)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class _StubDNS(ThreadedResolver):
    """Name resolution from a table instead of the network."""

    TABLE: ClassVar[dict[str, str]] = {
        "localhost": "127.0.0.1",
        "intranet.example": "127.0.0.1",
        "metadata.example": "169.254.169.254",
    }

    def getHostByName(self, name: str, timeout: object = ()) -> defer.Deferred:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            return defer.succeed(name)  # as gethostbyname answers for a literal (the proxy's address)
        if name in self.TABLE:
            return defer.succeed(self.TABLE[name])
        return defer.fail(DNSLookupError(name))


class StubResolver(PrivateAddressResolver, _StubDNS):
    """The project's resolver (checks and Scrapy's cache included) over the stub table: its MRO puts
    the table where the real DNS lookup was."""


CALENDAR = "events.example"
ARCHIVE = "lists.example"


class TrapWeb(Web):
    """An endless calendar (each month links the next) beside a mailing-list archive of 1,080 messages,
    all under one URL pattern (``/archive/YYYY-MM/msgNNNNN.html``), each within three links of the
    archive's index (index -> year -> month -> message) and linked to the next and previous message."""

    YEARS = range(2022, 2025)
    PER_MONTH = 30

    def __init__(self) -> None:
        super().__init__(
            {
                "www.trap-hub.example/": Resource(
                    body=html(f"http://{CALENDAR}/cal/2026-01", f"http://{ARCHIVE}/archive/")
                )
            }
        )
        months = [f"{y}-{m:02}" for y in self.YEARS for m in range(1, 13)]
        self.messages = [f"/archive/{ym}/msg{i:05}.html" for ym in months for i in range(self.PER_MONTH)]
        add = self.resources.__setitem__
        add(f"{ARCHIVE}/archive/", Resource(body=html(*(f"/archive/{y}/" for y in self.YEARS))))
        for y in self.YEARS:
            add(
                f"{ARCHIVE}/archive/{y}/",
                Resource(body=html(*(f"/archive/{y}-{m:02}/" for m in range(1, 13)))),
            )
        for ym in months:
            mine = [p for p in self.messages if f"/{ym}/" in p]
            add(f"{ARCHIVE}/archive/{ym}/", Resource(body=html(*mine)))
        for i, path in enumerate(self.messages):
            around = [self.messages[j] for j in (i - 1, i + 1) if 0 <= j < len(self.messages)]
            add(f"{ARCHIVE}{path}", Resource(body=html(*around, path.rsplit("/", 1)[0] + "/")))

    def lookup(self, host: str, path: str) -> Resource:
        if host == CALENDAR and path.startswith("/cal/"):
            year, month = map(int, path[len("/cal/") :].split("-"))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return Resource(body=html(f"/cal/{year}-{month:02}"))
        return super().lookup(host, path)
