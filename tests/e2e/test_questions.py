"""The everyday questions (issue 19) on both backends: each answer of ``query.questions`` equals a
brute-force computation over the exported edges of tests/support/questions_web.py's web (and the statuses and
scores it wrote); the history equals a day-by-day replay of first_seen / lost_at; the CLI and the API
give the same answers; bad input is one line and exit 2 (usage) or 1.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import questions_web as qw
import schemathesis
from fastapi.testclient import TestClient
from helpers import run_cli
from hypothesis import HealthCheck, given, settings
from test_store_contract import STORES, connector
from twisted.internet.error import ConnectionRefusedError, DNSLookupError
from twisted.python.failure import Failure

from backlinkspider.index import open_index
from backlinkspider.query import questions, summary
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.records import AnchorRow, BrokenRow, EdgeRow, Filters, OutlinkRow, Target
from backlinkspider.standards.urls import registered_domain
from backlinkspider.web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore:'(allowDiskUse|batchSize)' is accepted:UserWarning")

WEB = qw.build()
DAY = 86400


@pytest.fixture(scope="module", params=list(STORES))
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One store per backend with the web written, shared by the tests that only read it."""
    for connect in connector(request.param, tmp_path_factory.mktemp("questions")):
        idx = connect()
        qw.write(idx, WEB)
        yield idx


@pytest.fixture(scope="module")
def edges(index: Any) -> list[EdgeRow]:
    return list(index.export())


def flagged(r: EdgeRow) -> bool:
    return r.nofollow or r.ugc or r.sponsored


def live(rows: list[EdgeRow]) -> list[EdgeRow]:
    return [r for r in rows if r.lost_at is None]


def to(rows: list[EdgeRow], target: Target) -> list[EdgeRow]:
    def hit(r: EdgeRow) -> bool:
        if target.scope == "domain":
            return r.target_domain == target.value
        if target.scope == "url":
            return r.target_url == target.value
        return r.target_url.split("/")[2] == target.value

    return [r for r in rows if hit(r)]


def test_the_web_has_what_the_questions_need(edges: list[EdgeRow]) -> None:
    referrers = {d: {r.source_domain for r in live(edges) if r.target_domain == d} for d in qw.COMPETITORS}
    assert len(set.intersection(*referrers.values())) >= 2  # competitors share referrers
    assert any(r.lost_at is not None for r in edges) and any(flagged(r) for r in edges)
    assert "xn--caf-dma.fr" in {r.source_domain for r in edges}
    assert min(r.first_seen for r in edges) < datetime.now(UTC).timestamp() - 400 * DAY


# --- intersect ----------------------------------------------------------------------------------------


def expected_intersect(
    index: Any, rows: list[EdgeRow], asked: list[str], excluded: list[str], at_least: int
) -> list[dict[str, Any]]:
    by_source: dict[str, Counter[str]] = {}
    for r in rows:
        by_source.setdefault(r.source_domain, Counter())[r.target_domain] += 1
    authority = {s.domain: s.authority for s in WEB.scores}
    found = [
        {
            "referring_domain": source,
            "links_to": sorted(d for d in asked if c[d]),
            "backlinks": sum(c[d] for d in asked),
            "authority": authority.get(source),
        }
        for source, c in by_source.items()
        if sum(1 for d in asked if c[d]) >= at_least and not any(c[d] for d in excluded)
    ]
    return sorted(
        found, key=lambda r: (r["authority"] is None, -(r["authority"] or 0), r["referring_domain"])
    )


INTERSECTS = [
    (qw.COMPETITORS, [], None),
    (qw.COMPETITORS, [qw.ME], 2),
    (qw.COMPETITORS[:2], [], 1),
    ([*qw.COMPETITORS, qw.ME], [], 3),
    (["www.comp-a.com", "http://blog.comp-b.com/x"], [], None),  # hosts and URLs name their domain
]


@pytest.mark.parametrize(("asked", "excluded", "at_least"), INTERSECTS)
def test_intersect(
    index: Any, edges: list[EdgeRow], asked: list[str], excluded: list[str], at_least: int | None
) -> None:
    domains = [registered_domain(a.split("/")[2] if "://" in a else a) for a in asked]
    need = at_least or len(domains)
    for f, rows in (
        (Filters(), live(edges)),
        (Filters(rel="follow"), [r for r in live(edges) if not flagged(r)]),
        (Filters(status="all"), edges),
    ):
        got = questions.intersect(index, asked, excluded=excluded, at_least=at_least, filters=f)
        assert got == expected_intersect(index, rows, domains, excluded, need), f
    assert any(r["authority"] is None for r in questions.intersect(index, qw.COMPETITORS[:2], at_least=1))


def test_intersect_refuses_bad_lists(index: Any) -> None:
    for asked, excluded, at_least in (
        ([], [], None),
        (qw.COMPETITORS, [], 4),
        (qw.COMPETITORS, [], 0),
        (qw.COMPETITORS, ["comp-a.com"], None),
        (["not a domain!"], [], None),
    ):
        with pytest.raises(BadTarget):
            questions.intersect(index, asked, excluded=excluded, at_least=at_least)
    with pytest.raises(NoBacklinks, match=re.escape("no backlinks to domain nosuch.org")):
        questions.intersect(index, ["comp-a.com", "nosuch.org"])
    with pytest.raises(
        NoBacklinks, match=re.escape("no referring domain links to 2 of lonely.org, alone.org")
    ):
        questions.intersect(index, qw.LONELY)


# --- broken ---------------------------------------------------------------------------------------------

BROKEN_TARGETS = [
    Target("domain", qw.ME),
    Target("host", f"www.{qw.ME}"),
    Target("domain", qw.COMPETITORS[0]),
    Target("url", f"http://www.{qw.ME}/gone"),
    Target("domain", "nosuch.org"),
]


@pytest.mark.parametrize("target", BROKEN_TARGETS, ids=lambda t: f"{t.scope}:{t.value}")
def test_broken(index: Any, edges: list[EdgeRow], target: Target) -> None:
    pages: dict[str, list[EdgeRow]] = {}
    for r in to(live(edges), target):
        if r.target_url in WEB.statuses:
            pages.setdefault(r.target_url, []).append(r)
    expected: list[BrokenRow] = [
        {
            "target_url": url,
            "status": WEB.statuses[url],
            "referring_domains": len({r.source_domain for r in rs}),
            "backlinks": len(rs),
            "last_checked": datetime.fromtimestamp(WEB.checked[url], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for url, rs in pages.items()
    ]
    expected.sort(key=lambda r: (-r["referring_domains"], -r["backlinks"], r["target_url"]))
    if not expected:
        with pytest.raises(NoBacklinks, match="no broken pages of"):
            questions.broken(index, target)
        return
    assert questions.broken(index, target) == expected
    if target == BROKEN_TARGETS[0]:
        assert {r["status"] for r in expected} == {404, 410, 500, "dns", "connection"}


# --- anchors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [Target("domain", d) for d in [*qw.COMPETITORS, qw.ME]] + [Target("host", "blog.comp-a.com")],
    ids=str,
)
def test_anchors(index: Any, edges: list[EdgeRow], target: Target) -> None:
    for f in (Filters(), Filters(status="all")):
        rows = to(edges if f.status == "all" else live(edges), target)
        by_anchor: dict[str, list[EdgeRow]] = {}
        for r in rows:
            by_anchor.setdefault(r.anchor_text, []).append(r)
        expected: list[AnchorRow] = [
            {
                "anchor": a,
                "referring_domains": len({r.source_domain for r in rs}),
                "backlinks": len(rs),
                "follow_share": round(sum(not flagged(r) for r in rs) / len(rs), 4),
            }
            for a, rs in by_anchor.items()
        ]
        expected.sort(key=lambda r: (-r["referring_domains"], -r["backlinks"], r["anchor"]))
        assert questions.anchors(index, target, f) == expected
        assert len(expected) >= (4 if target.scope == "domain" else 1)


# --- outlinks -------------------------------------------------------------------------------------------


def test_outlinks(index: Any, edges: list[EdgeRow]) -> None:
    for source in sorted({r.source_domain for r in edges}):
        for status, rows in (("live", live(edges)), ("all", edges)):
            by_target: dict[str, list[EdgeRow]] = {}
            for r in rows:
                if r.source_domain == source:
                    by_target.setdefault(r.target_domain, []).append(r)
            expected: list[OutlinkRow] = []
            for t, rs in by_target.items():
                anchors = Counter(r.anchor_text for r in rs)
                top = min(anchors.items(), key=lambda kv: (-kv[1], kv[0]))[0]
                expected.append(
                    {
                        "target_domain": t,
                        "backlinks": len(rs),
                        "follow": sum(not flagged(r) for r in rs),
                        "top_anchor": top,
                    }
                )
            expected.sort(key=lambda r: (-r["backlinks"], r["target_domain"]))
            if not expected:
                with pytest.raises(NoBacklinks):
                    questions.outlinks(index, source, status)  # type: ignore[arg-type]
                continue
            assert questions.outlinks(index, f"http://www.{source}/any", status) == expected  # type: ignore[arg-type]
    with pytest.raises(NoBacklinks, match=re.escape("no live links from domain nosuch.org")):
        questions.outlinks(index, "nosuch.org")


# --- history --------------------------------------------------------------------------------------------


def replay(rows: list[EdgeRow], day: int) -> tuple[int, int]:
    """Links and referring domains live at the end of ``day``: live on [first_seen, lost_at)."""
    end = (day + 1) * DAY
    alive = [r for r in rows if r.first_seen < end and (r.lost_at is None or r.lost_at >= end)]
    return len(alive), len({r.source_domain for r in alive})


HISTORY_TARGETS = [Target("domain", d) for d in [*qw.COMPETITORS, qw.ME]] + [
    Target("host", f"www.{qw.ME}"),
    Target("url", f"http://www.{qw.ME}/comeback"),
    Target("domain", "nosuch.org"),
]


@pytest.mark.parametrize("target", HISTORY_TARGETS, ids=str)
def test_history_is_the_day_by_day_replay(index: Any, edges: list[EdgeRow], target: Target) -> None:
    rows = to(edges, target)
    today = datetime.now(UTC).date()
    got = questions.levels(index, target, today)
    if not rows:
        assert got == []
        return
    epoch = date(1970, 1, 1)
    first, last = min(r.first_seen for r in rows) // DAY, (today - epoch).days
    days = [d for d in range(first, last + 1) if d > last - 365 or (last - d) % 7 == 0]
    expected = [
        {"date": (epoch + timedelta(days=d)).isoformat(), "backlinks": n, "referring_domains": k}
        for d in days
        for n, k in [replay(rows, d)]
    ]
    assert got == expected
    assert got[-1]["date"] == today.isoformat()
    assert len(got) > 365 + 4 or target.scope == "url"


def test_a_domain_that_went_dark_is_not_counted_while_dark(index: Any, edges: list[EdgeRow]) -> None:
    """ref2.net lost all its links to me.org, then linked again weeks later with new ones: its first
    first_seen and its last lost_at alone would count it live through the gap."""
    rows = [r for r in edges if r.source_domain == "ref2.net" and r.target_domain == qw.ME]
    dark_from = max(r.lost_at or 0 for r in rows) // DAY
    back_on = min(r.first_seen for r in rows if r.lost_at is None) // DAY
    assert back_on - dark_from > 20
    history = {h["date"]: h for h in questions.levels(index, Target("domain", qw.ME))}
    day = date(1970, 1, 1) + timedelta(days=dark_from + 10)
    others = [r for r in edges if r.target_domain == qw.ME and r.source_domain != "ref2.net"]
    if day.isoformat() in history:
        assert history[day.isoformat()]["referring_domains"] == replay(others, dark_from + 10)[1]


def test_summary_carries_the_history(index: Any) -> None:
    target = Target("domain", qw.ME)
    assert summary(index, target)["history"] == questions.levels(index, target)


# --- disavow -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pick",
    [
        questions.DisavowPick(farm_only=True),
        questions.DisavowPick(spam_mass_over=0.5),
        questions.DisavowPick(farm_only=True, spam_mass_over=0.1),
        questions.DisavowPick(domains=("ref1.net", "ref3.net", "nosuch.org")),
        questions.DisavowPick(spam_mass_over=0.3, target=Target("domain", qw.ME)),
        questions.DisavowPick(
            domains=("xn--caf-dma.fr", "ref1.net"), target=Target("domain", qw.COMPETITORS[1])
        ),
    ],
    ids=lambda p: p.described(),
)
def test_disavow_picks_what_every_filter_picks(
    index: Any, edges: list[EdgeRow], pick: questions.DisavowPick
) -> None:
    chosen = {s.domain for s in WEB.scores}
    if pick.farm_only:
        chosen &= {s.domain for s in WEB.scores if s.farm_role == "member"}
    if pick.spam_mass_over is not None:
        chosen &= {
            s.domain for s in WEB.scores if s.spam_mass is not None and s.spam_mass > pick.spam_mass_over
        }
    if pick.domains is not None:
        chosen = (
            set(pick.domains)
            if not (pick.farm_only or pick.spam_mass_over is not None)
            else chosen & set(pick.domains)
        )
    if pick.target is not None:
        chosen &= {r.source_domain for r in to(live(edges), pick.target)}
    got = questions.disavowed(index, pick)
    assert got == sorted(chosen) and got


def test_the_disavow_file_is_google_s_format() -> None:
    pick = questions.DisavowPick(spam_mass_over=0.5, domains=("a.com",), list_name="bad.txt")
    text = questions.disavow_file(["a.com", "xn--caf-dma.fr"], pick, date(2026, 12, 6))
    assert text == (
        "# Disavow file made by backlinkspider on 2026-12-06\n"
        "# Filters: spam mass over 0.5; listed in bad.txt\n"
        "# 2 domains\n"
        "domain:a.com\n"
        "domain:xn--caf-dma.fr\n"
    )


def test_a_domain_list_reads_hosts_urls_and_idn_as_punycode_domains() -> None:
    lines = [
        "# mine",
        "",
        "www.Café.fr",
        "domain:spam.co.uk  # a farm",
        "https://x.blog.spam.co.uk/p",
        "b.org",
    ]
    assert questions.read_domain_list(lines) == ("xn--caf-dma.fr", "spam.co.uk", "b.org")
    with pytest.raises(BadTarget, match=re.escape("list.txt, line 2")):
        questions.read_domain_list(["a.com", "not a host"], "list.txt")


def test_disavow_needs_a_filter_and_scores(index: Any) -> None:
    with pytest.raises(BadTarget):
        questions.disavowed(index, questions.DisavowPick(target=Target("domain", qw.ME)))


# --- the page status a crawl keeps ---------------------------------------------------------------------


def test_a_failed_fetch_says_why() -> None:
    from scrapy.http import Request, Response
    from scrapy.spidermiddlewares.httperror import HttpError

    from backlinkspider.crawl.spider import failure_status

    def failed(error: BaseException) -> Failure:
        return Failure(error)  # type: ignore[no-untyped-call]  # Twisted's

    response = Response("http://a.com/", status=410, request=Request("http://a.com/"))
    assert failure_status(failed(HttpError(response))) == 410
    assert failure_status(failed(DNSLookupError("a.com"))) == "dns"
    assert failure_status(failed(ConnectionRefusedError())) == "connection"  # type: ignore[no-untyped-call]
    assert failure_status(failed(ValueError("odd"))) == "error"


def test_an_older_sqlite_index_gets_the_status_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE pages (url TEXT PRIMARY KEY, last_crawled INTEGER NOT NULL, failures INTEGER NOT NULL) WITHOUT ROWID"
        )
        db.execute("INSERT INTO pages VALUES ('http://a.com/', 5, 1)")
    with open_index(f"sqlite:///{path}") as idx:
        assert idx.page_states(["http://a.com/"])["http://a.com/"].status is None
        qw.write(idx, WEB)
        assert questions.broken(idx, Target("domain", qw.ME))


# --- the CLI and the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'links.db'}"
    with open_index(uri) as idx:
        qw.write(idx, WEB)
    return uri


@pytest.fixture(scope="module")
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as c:
        yield c


def cli_rows(*args: str) -> list[dict[str, Any]]:
    res = run_cli(*args, "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


ASKED = [  # (CLI arguments, API path and query)
    (
        ["intersect", *qw.COMPETITORS, "--not", qw.ME, "--min", "2"],
        "/api/v1/intersect?target=comp-a.com&target=comp-b.com&target=comp-c.co.uk&not=me.org&min=2",
    ),
    (
        ["intersect", *qw.COMPETITORS[:2], "--follow-only"],
        "/api/v1/intersect?target=comp-a.com&target=comp-b.com&rel=follow",
    ),
    (["broken", qw.ME], f"/api/v1/broken?target={qw.ME}"),
    (["anchors", qw.COMPETITORS[1], "--include-lost"], "/api/v1/anchors?target=comp-b.com&status=all"),
    (["outlinks", "ref1.net"], "/api/v1/outlinks?source=ref1.net"),
]


@pytest.mark.parametrize(("args", "path"), ASKED, ids=lambda a: a[0] if isinstance(a, list) else "")
def test_the_api_answers_what_the_cli_prints(client: TestClient, db: str, args: list[str], path: str) -> None:
    rows = cli_rows(*args, "--index", db)
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == rows and rows
    res = run_cli(*args, "--index", db, "--format", "csv")
    assert client.get(path + "&format=csv&limit=0").text == res.stdout
    assert answer.json()["total"] == len(rows)
    if path.startswith("/api/v1/intersect"):
        assert answer.json()["targets"] == [d for d in qw.COMPETITORS if f"target={d}" in path]
    paged = client.get(path + "&limit=2&offset=1").json()
    assert paged["rows"] == rows[1:3] and paged["total"] == len(rows)
    assert next(iter(csv.DictReader(io.StringIO(res.stdout)))).keys() == rows[0].keys()


def test_disavow_from_the_cli_and_the_api(client: TestClient, db: str, tmp_path: Path) -> None:
    listed = tmp_path / "bad.txt"
    listed.write_text("# bad ones\nref1.net\nwww.café.fr\nref3.net\n", encoding="utf-8")
    res = run_cli("disavow", "--domains-file", str(listed), "--target", qw.COMPETITORS[1], "--index", db)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1] == f"# Filters: listed in {listed}; referring domains of domain {qw.COMPETITORS[1]}"
    api = client.get(
        f"/api/v1/disavow?domain=ref1.net&domain=www.café.fr&domain=ref3.net&target={qw.COMPETITORS[1]}"
    )
    assert api.status_code == 200 and api.headers["content-type"].startswith("text/plain")
    assert api.text.splitlines()[3:] == lines[3:] and lines[3:] == sorted(lines[3:])
    assert all(line.startswith("domain:") for line in lines[3:])
    farm = run_cli("disavow", "--farm-only", "--index", db)
    assert (
        farm.returncode == 0
        and farm.stdout.splitlines()[3:] == client.get("/api/v1/disavow?farm_only=true").text.splitlines()[3:]
    )


def test_summary_json_has_the_history(client: TestClient, db: str) -> None:
    res = run_cli("summary", qw.ME, "--format", "json", "--index", db)
    history = json.loads(res.stdout)["history"]
    assert history == client.get(f"/api/v1/summary?target={qw.ME}").json()["history"]
    assert history[-1]["date"] == datetime.now(UTC).date().isoformat()


BAD = [  # (arguments, exit code, what the one line says)
    (["intersect", "comp-a.com", "nosuch.org"], 1, "no backlinks to domain nosuch.org"),
    (["intersect", *qw.COMPETITORS, "--min", "4"], 2, "min: 4 is not between 1 and the 3 domains given"),
    (["intersect", *qw.LONELY], 1, "no referring domain links to 2 of lonely.org, alone.org"),
    (["intersect", "comp-a.com", "--since", "2026-13-45"], 2, "'2026-13-45' does not match the formats"),
    (["intersect"], 2, "Missing argument 'DOMAINS...'"),
    (["broken", qw.COMPETITORS[1]], 1, "no broken pages of domain comp-b.com have links"),
    (["anchors", "nosuch.org"], 1, "no backlinks to domain nosuch.org"),
    (["outlinks", "nosuch.org"], 1, "no live links from domain nosuch.org"),
    (["outlinks", "bad host!"], 2, "not a host name"),
    (["disavow", "--target", qw.ME], 2, "choose what to disavow"),
    (["disavow", "--spam-mass-over", "2"], 2, "2.0 is not in the range 0<=x<=1"),
]


@pytest.mark.parametrize(
    ("args", "code", "says"), BAD, ids=lambda a: " ".join(a) if isinstance(a, list) else None
)
def test_bad_input_is_one_line(db: str, args: list[str], code: int, says: str) -> None:
    res = run_cli(*args, "--index", db)
    assert res.returncode == code, res.stderr
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1 and says in res.stderr, res.stderr


def test_the_api_s_errors(client: TestClient) -> None:
    for path, code in (
        ("/api/v1/intersect?target=comp-a.com&target=nosuch.org", 404),
        ("/api/v1/intersect?target=comp-a.com&min=2", 400),
        ("/api/v1/intersect?target=lonely.org&target=alone.org", 404),
        ("/api/v1/intersect?target=comp-a.com&not=comp-a.com", 400),
        ("/api/v1/broken?target=comp-b.com", 404),
        ("/api/v1/outlinks?source=nosuch.org", 404),
        ("/api/v1/disavow?target=me.org", 400),
        ("/api/v1/anchors?target=me.org&limit=0", 400),  # a json page holds 1 to 1000 rows
    ):
        answer = client.get(path)
        assert answer.status_code == code, (path, answer.text)
        assert "\n" not in answer.json()["detail"]


def test_fuzzed_question_requests_get_no_5xx(client: TestClient) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    paths = {"/api/v1/intersect", "/api/v1/broken", "/api/v1/anchors", "/api/v1/outlinks", "/api/v1/disavow"}
    found = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    operations = [op for op in found if op.path in paths]
    assert len(operations) == len(paths)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                checks=[not_a_server_error, status_code_conformance, content_type_conformance]
            )

        fuzz()


# --- a real crawl keeps why pages failed ------------------------------------------------------------


def test_a_crawl_of_the_synthetic_web_finds_its_broken_pages(crawl: Any, web: Any) -> None:
    """Every page the crawl fetched keeps the status the web answered; ``broken`` lists exactly the
    fetched targets that answered >= 400, with the live links to each from the export."""
    uri, exported = crawl()
    with open_index(uri, create=False) as idx:
        targets = {e["target_url"] for e in exported}
        states = idx.page_states(targets)
        assert states, "the crawl fetched none of the link targets"
        for url, state in states.items():
            host, _, path = url.split("://", 1)[1].partition("/")
            answered = web.lookup(host, "/" + path.split("#")[0]).status
            assert state.status == (answered if answered >= 400 else None), url
        failed = {url for url, state in states.items() if state.status is not None}
        assert failed
        for domain in sorted({registered_domain(u.split("/")[2]) for u in failed}):
            rows = questions.broken(idx, Target("domain", domain))
            live_to = [e for e in exported if e["lost_at"] is None and e["target_url"] in failed]
            expected = Counter(e["target_url"] for e in live_to if e["target_domain"] == domain)
            assert {r["target_url"]: r["backlinks"] for r in rows} == dict(expected)
