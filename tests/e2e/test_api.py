"""The JSON API (``backlinks serve``) on a crawl of the synthetic web: every figure equals the CLI's,
cursors walk every row once, bad input is a one-line 4xx, and the server is read-only and guarded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
import test_profile
from fastapi.testclient import TestClient
from helpers import BACKLINKS, run_cli
from hypothesis import HealthCheck, given, settings
from test_index import T0, crawled, index  # noqa: F401  (the every-backend fixture)
from test_profile import TARGETS

import backlinkspider.query as q
from backlinkspider.archives.filequeue import FileQueue
from backlinkspider.index import open_index
from backlinkspider.records import Target
from backlinkspider.standards.extract import Link
from backlinkspider.web.app import create_app

crawled_web = test_profile.crawled  # the fixture: one crawl of the synthetic web

FILTERS = [  # (CLI options, the same as API parameters)
    ([], {}),
    (["--follow-only"], {"rel": "follow"}),
    (["--nofollow-only"], {"rel": "nofollow"}),
    (["--type", "image"], {"type": "image"}),
    (["--from-domain", "www.example-times.com"], {"from_domain": "www.example-times.com"}),
    (["--anchor-contains", "REL "], {"anchor_contains": "REL "}),
    (["--since", "2000-01-01"], {"since": "2000-01-01"}),
    (["--include-lost"], {"status": "all"}),
    (["--one-per-domain"], {"one_per_domain": "true"}),
    (["--sort", "source_domain"], {"sort": "source_domain"}),
    (
        ["--sort", "last_seen", "--follow-only", "--type", "text"],
        {"sort": "last_seen", "rel": "follow", "type": "text"},
    ),
]


@pytest.fixture(scope="module")
def client(crawled_web):
    with TestClient(create_app(crawled_web)) as c:
        yield c


def cli_json(*args: str) -> dict:
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("value, scope", TARGETS)
@pytest.mark.parametrize("include_lost", [False, True])
def test_summary_is_the_cli_summary(client, crawled_web, value, scope, include_lost):
    lost = ["--include-lost"] if include_lost else []
    want = cli_json("summary", value, "--scope", scope, "--format", "json", *lost, "--index", crawled_web)
    got = client.get(
        "/api/v1/summary", params={"target": value, "scope": scope, "include_lost": include_lost}
    )
    assert got.status_code == 200, got.text
    assert got.json() == want
    assert want["target"] == {"scope": scope, "value": value} and want["backlinks"] > 0


@pytest.mark.parametrize("cli_args, params", FILTERS)
def test_listings_are_the_cli_query_output(client, crawled_web, cli_args, params):
    """The jsonl download byte for byte (csv for a few), and a walk of 3-row pages by cursor: every row
    once, in the CLI's order."""
    formats = ("jsonl", "csv") if len(cli_args) > 2 or not cli_args else ("jsonl",)
    for fmt in formats:
        res = run_cli(
            "query", "blueleaf.co.uk", *cli_args, "--limit", "0", "--format", fmt, "--index", crawled_web
        )
        assert res.returncode == 0, res.stderr
        got = client.get(
            "/api/v1/backlinks", params={"target": "blueleaf.co.uk", **params, "format": fmt, "limit": 0}
        )
        assert got.status_code == 200, got.text
        assert got.text == res.stdout
        assert "attachment" in got.headers["content-disposition"]
        if fmt == "jsonl":
            want = [json.loads(line) for line in res.stdout.splitlines()]
    rows, cursor, pages = [], None, 0
    while True:
        page = client.get(
            "/api/v1/backlinks",
            params={
                "target": "blueleaf.co.uk",
                **params,
                "limit": 3,
                **({"cursor": cursor} if cursor else {}),
            },
        )
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body["rows"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert rows == want and len(want) > 0
    assert pages == len(want) // 3 + 1  # full pages, then the short (or empty) last one


def test_history_counts_add_up_to_the_summary(client, crawled_web):
    for value, scope in TARGETS:
        summary = cli_json(
            "summary", value, "--scope", scope, "--include-lost", "--format", "json", "--index", crawled_web
        )
        got = client.get("/api/v1/history", params={"target": value, "scope": scope})
        assert got.status_code == 200, got.text
        weeks = got.json()["weeks"]
        assert sum(w["new_backlinks"] for w in weeks) == summary["backlinks"]
        assert sum(w["new_referring_domains"] for w in weeks) == summary["referring_domains"]
        assert sum(w["lost_backlinks"] for w in weeks) == 0


def test_history_buckets_new_and_lost_per_week(index):  # noqa: F811
    """Monday-to-Sunday UTC weeks; quiet weeks are zeros; a domain is lost when its last live link is."""
    t = T0.replace(hour=12)  # Friday 2026-01-02: week of Monday 2025-12-29
    x, y = "http://www.target.co.uk/x", "http://www.target.co.uk/y"
    index.write([crawled("http://a.com/1", [Link(x, "text", "a"), Link(y, "text", "b")], t)])
    index.write([crawled("http://b.org/1", [Link(x, "text", "c")], t + timedelta(days=3))])  # Monday
    index.write([crawled("http://a.com/1", [Link(x, "text", "a")], t + timedelta(days=17))])  # y lost
    index.write([crawled("http://b.org/1", [], t + timedelta(days=18))])  # b.org's only link lost
    rows = q.history(index, Target("domain", "target.co.uk"))
    assert rows == [
        {
            "week": "2025-12-29",
            "new_backlinks": 2,
            "lost_backlinks": 0,
            "new_referring_domains": 1,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-05",
            "new_backlinks": 1,
            "lost_backlinks": 0,
            "new_referring_domains": 1,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-12",
            "new_backlinks": 0,
            "lost_backlinks": 0,
            "new_referring_domains": 0,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-19",
            "new_backlinks": 0,
            "lost_backlinks": 2,
            "new_referring_domains": 0,
            "lost_referring_domains": 1,
        },
    ]
    assert q.history(index, Target("host", "www.target.co.uk")) == rows
    assert q.history(index, Target("url", y)) == [
        {
            "week": "2025-12-29",
            "new_backlinks": 1,
            "lost_backlinks": 0,
            "new_referring_domains": 1,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-05",
            "new_backlinks": 0,
            "lost_backlinks": 0,
            "new_referring_domains": 0,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-12",
            "new_backlinks": 0,
            "lost_backlinks": 0,
            "new_referring_domains": 0,
            "lost_referring_domains": 0,
        },
        {
            "week": "2026-01-19",
            "new_backlinks": 0,
            "lost_backlinks": 1,
            "new_referring_domains": 0,
            "lost_referring_domains": 1,
        },
    ]
    assert q.history(index, Target("domain", "nothing.com")) == []


def test_the_api_reads_a_mongodb_index_alike(index):  # noqa: F811
    index.write([crawled("http://a.com/1", [Link("http://www.target.co.uk/x", "text", "a")], T0)])
    with TestClient(create_app(index.uri, opener=lambda uri: index)) as c:
        summary = c.get("/api/v1/summary", params={"target": "target.co.uk"}).json()
        assert summary["backlinks"] == 1 and summary["top_anchors"] == [{"value": "a", "count": 1}]
        page = c.get("/api/v1/backlinks", params={"target": "target.co.uk"}).json()
        assert [r["source_url"] for r in page["rows"]] == ["http://a.com/1"]
        assert c.get("/api/v1/status").json()["index"]["edges"] == 1


def test_a_write_invalidates_the_cached_summary(tmp_path):
    uri = f"sqlite:///{tmp_path / 'live.db'}"
    x = "http://www.target.co.uk/x"
    with open_index(uri) as writer:
        writer.write([crawled("http://a.com/1", [Link(x, "text", "a")])])
        with TestClient(create_app(uri)) as c:
            first = c.get("/api/v1/summary", params={"target": "target.co.uk"}).json()
            assert c.get("/api/v1/summary", params={"target": "target.co.uk"}).json() == first
            assert len(c.get("/api/v1/backlinks", params={"target": "target.co.uk"}).json()["rows"]) == 1
            writer.write([crawled("http://b.org/1", [Link(x, "text", "b")], T0 + timedelta(days=1))])
            after = c.get("/api/v1/summary", params={"target": "target.co.uk"}).json()
            weeks = c.get("/api/v1/history", params={"target": "target.co.uk"}).json()["weeks"]
            edges = c.get("/api/v1/status").json()["index"]["edges"]
            rows = c.get("/api/v1/backlinks", params={"target": "target.co.uk"}).json()["rows"]
    assert (first["backlinks"], after["backlinks"], edges, len(rows)) == (1, 2, 2, 2)
    assert sum(w["new_backlinks"] for w in weeks) == 2


def test_every_committed_write_invalidates_the_cache(tmp_path):
    """The reader caches by the store's fingerprint(): a re-crawl that only marks a link lost, in the
    same second as the last write, shows at once, and so do the scores a rank stores."""
    from backlinkspider.scores import rank_index

    uri = f"sqlite:///{tmp_path / 'live.db'}"
    x, y, later = "http://www.target.co.uk/x", "http://www.target.co.uk/y", T0 + timedelta(days=1)
    with open_index(uri) as writer:
        writer.write([crawled("http://a.com/1", [Link(x, "text", "a"), Link(y, "text", "b")])])
        writer.write([crawled("http://b.org/1", [Link(x, "text", "c")], later)])
        with TestClient(create_app(uri)) as c:

            def summary():
                return c.get("/api/v1/summary", params={"target": "target.co.uk"}).json()

            before = summary()
            writer.write([crawled("http://a.com/1", [Link(x, "text", "a")], later)])  # y lost, same second
            lost = summary()
            rank_index(writer)
            ranked = summary()
    assert (before["backlinks"], lost["backlinks"]) == (3, 2)
    assert before["authority"] is None and ranked["authority"] is not None
    assert ranked["scores_stale"] is False


def test_answers_are_validated_and_serialized_by_their_declared_model():
    """``_body`` sends a document only through its response model: a missing key or a wrong type is an
    error (a bug, never a silently different answer), and what is sent is what the schema declares."""
    from pydantic import ValidationError

    from backlinkspider.records import History
    from backlinkspider.web.api import _body

    week = {"week": "2026-01-05", "new_backlinks": 1, "lost_backlinks": 0}
    week |= {"new_referring_domains": 1, "lost_referring_domains": 0}
    doc = {"target": {"scope": "domain", "value": "a.com"}, "weeks": [week]}
    assert json.loads(_body(History, doc)) == doc
    for bad in ({"target": doc["target"]}, {**doc, "weeks": [{**week, "new_backlinks": "many"}]}):
        with pytest.raises(ValidationError):
            _body(History, bad)


@pytest.mark.parametrize(
    "path, params, status, message",
    [
        ("summary", {"target": "nowhere.example"}, 404, "no backlinks to domain nowhere.example"),
        ("history", {"target": "nowhere.example"}, 404, "no backlinks"),
        ("backlinks", {"target": "nowhere.example"}, 404, "no backlinks"),
        ("backlinks", {"target": "nowhere.example", "format": "csv", "limit": 0}, 404, "no backlinks"),
        ("summary", {"target": "http://"}, 400, "target:"),
        ("summary", {"target": "bob.github.io", "scope": "planet"}, 400, "scope:"),
        ("summary", {}, 400, "target: Field required"),
        ("backlinks", {"target": "bob.github.io", "cursor": "nonsense"}, 400, "cursor: not a cursor"),
        ("backlinks", {"target": "bob.github.io", "cursor": "x", "offset": 2}, 400, "cursor or offset"),
        ("backlinks", {"target": "bob.github.io", "limit": 0}, 400, "limit=0 needs csv or jsonl"),
        ("backlinks", {"target": "bob.github.io", "limit": 5000}, 400, "limit:"),
        ("backlinks", {"target": "bob.github.io", "limit": "many"}, 400, "limit:"),
        ("backlinks", {"target": "bob.github.io", "since": "yesterday"}, 400, "since:"),
        ("backlinks", {"target": "bob.github.io", "sort": "random"}, 400, "sort:"),
        ("backlinks", {"target": "bob.github.io", "from_domain": "a b"}, 400, "from_domain:"),
    ],
)
def test_bad_input_is_a_one_line_4xx(client, path, params, status, message):
    res = client.get(f"/api/v1/{path}", params=params)
    assert res.status_code == status, res.text
    detail = res.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and message in detail


def test_the_end_of_a_listing_is_an_empty_page_not_an_error(client):
    res = client.get("/api/v1/backlinks", params={"target": "bob.github.io", "offset": 10**6})
    assert res.status_code == 200 and res.json()["rows"] == [] and res.json()["next_cursor"] is None


def test_status_reports_the_frontier_figures_when_redis_url_is_set(client, redis_server, monkeypatch):
    assert client.get("/api/v1/status").json()["frontier"] is None
    env = {**os.environ, "REDIS_URL": redis_server.url}
    seeded = run_cli("seed", "http://a.example/", "http://b.example/", "http://a.example/", env=env)
    assert seeded.returncode == 0, seeded.stderr
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    frontier = client.get("/api/v1/status").json()["frontier"]
    assert frontier == {
        "queue": 2,
        "hosts": 2,
        "seen": 2,
        "leased": 0,
        "dropped": 0,
        "over_budget": 0,
        "workers": [],
    }
    cli = run_cli("status", env=env).stdout
    assert "frontier 2" in cli and "seen 2" in cli and "leased 0" in cli
    assert client.get("/api/v1/status").json()["ingest"] is None and "ingest" not in cli
    FileQueue(redis_server.url, ttl=15, attempts=3, backoff_max=1).enqueue(["a.warc.gz", "b.warc.gz"])
    ingest = client.get("/api/v1/status").json()["ingest"]
    assert ingest == {
        "files": 2,
        "queued": 2,
        "leased": 0,
        "done": 0,
        "failed": 0,
        "workers": 0,
        "failures": {},
    }
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    dead = client.get("/api/v1/status")
    assert dead.status_code == 503 and "cannot reach Redis" in dead.json()["detail"]


# --- security --------------------------------------------------------------------------------------


def test_no_endpoint_writes(client):
    methods = {m for route in client.app.routes for m in getattr(route, "methods", ())}
    assert methods <= {"GET", "HEAD"}
    schema = client.get("/openapi.json").json()
    assert {verb for ops in schema["paths"].values() for verb in ops} == {"get"}
    for verb in ("post", "put", "patch", "delete"):
        assert getattr(client, verb)("/api/v1/backlinks?target=bob.github.io").status_code == 405


def test_with_a_token_every_request_needs_it(crawled_web):
    with TestClient(create_app(crawled_web, token="s3cret-token")) as c:
        params = {"target": "bob.github.io"}
        for path in ("summary", "history", "backlinks", "domains", "status"):
            res = c.get(f"/api/v1/{path}", params=params)
            assert res.status_code == 401 and res.headers["www-authenticate"] == "Bearer"
            assert "bearer token" in res.json()["detail"]
            wrong = c.get(f"/api/v1/{path}", params=params, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = c.get(f"/api/v1/{path}", params=params, headers={"Authorization": "Bearer s3cret-token"})
            assert ok.status_code == 200, ok.text
        assert c.get("/api/v1/healthz").status_code == 200  # probes carry no token
        assert c.get("/").status_code == 200  # the page itself holds no data; it asks for the token


def test_a_non_loopback_bind_without_a_token_refuses_to_start(crawled_web):
    env = {k: v for k, v in os.environ.items() if k != "BACKLINKS_API_TOKEN"}
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        res = run_cli("serve", "--host", host, "--port", "0", "--index", crawled_web, env=env)
        assert res.returncode == 1
        assert res.stderr.count("\n") == 1 and "BACKLINKS_API_TOKEN" in res.stderr, res.stderr


def test_the_index_password_never_shows(index, tmp_path):  # noqa: F811
    secret = "pa55-w0rd-xyz"
    uri = f"mongodb://reader:{secret}@127.0.0.1:1/backlinks?serverSelectionTimeoutMS=200"
    res = run_cli("serve", "--index", uri, "--port", "0")
    assert res.returncode == 1 and secret not in res.stderr + res.stdout and "reader:***@" in res.stderr
    # Served (over a stand-in standing for that server): pages, answers and errors.
    index.write([crawled("http://a.com/1", [Link("http://www.target.co.uk/x", "text", "a")], T0)])
    with TestClient(create_app(uri, opener=lambda _: index)) as c:
        bodies = [c.get(p).text for p in ("/", "/docs", "/openapi.json", "/api/v1/status")]
        bodies += [
            c.get("/api/v1/summary", params={"target": t}).text for t in ("target.co.uk", "none.com", "")
        ]
    assert "reader:***@" in bodies[3]
    assert not any(secret in b for b in bodies)


class Server:
    """``backlinks serve`` on a port the system picks (read from its log line), stopped by its pid."""

    def __init__(self, uri: str, log: Path, token: str | None = None, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "BACKLINKS_API_TOKEN"}
        if token:
            env["BACKLINKS_API_TOKEN"] = token
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [*BACKLINKS, "serve", "--port", "0", "--index", uri, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Uvicorn running on (http://\S+:\d+)", log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()}")
            time.sleep(0.1)
        self.url = found.group(1).replace("0.0.0.0", "127.0.0.1")  # reached on loopback only
        while time.monotonic() < deadline:  # workers may still be starting
            try:
                if httpx.get(f"{self.url}/api/v1/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer: {log.read_text()}")

    def stop(self) -> str:
        """Stop it; returns its log."""
        self.proc.terminate()
        self.proc.wait(timeout=20)
        return self.log.read_text()


def test_serve_runs_workers_with_a_token_off_loopback(crawled_web, tmp_path):
    """The real command: two uvicorn workers bound to every address (reached here on loopback only)."""
    server = Server(crawled_web, tmp_path / "serve.log", "tok-123", "--host", "0.0.0.0", "--workers", "2")
    deadline = time.monotonic() + 60  # the first worker answers; the second may still be starting
    while server.log.read_text().count("Application startup complete") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        base = server.url
        assert httpx.get(f"{base}/api/v1/summary?target=bob.github.io").status_code == 401
        ok = httpx.get(
            f"{base}/api/v1/summary?target=bob.github.io", headers={"Authorization": "Bearer tok-123"}
        )
        assert ok.status_code == 200 and ok.json()["backlinks"] > 0
        assert httpx.get(f"{base}/").status_code == 200
    finally:
        text = server.stop()
    assert "tok-123" not in text and "Started parent process" in text, text
    assert text.count("Application startup complete") == 2


# --- the OpenAPI schema, fuzzed -------------------------------------------------------------------


def test_fuzzed_requests_get_no_5xx_and_match_the_schema(crawled_web):
    """Generated requests (valid and not) to every operation: never a server error, and every answer has
    a status, a content type and a body the schema declares. An app of its own: schemathesis ends the
    app's lifespan (closing its index) when the test ends."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(crawled_web))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11  # web/api.py 6, web/questions.py 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case):
            case.call_and_validate(checks=checks)

        fuzz()
