"""``backlinks ingest`` end to end, through the real CLI: archives of pages give the edges a crawl of the
same pages gives, on both backends; capture dates, lost links and ``--targets``; bad input ends in one
line per file and loses nothing already indexed."""

from __future__ import annotations

import gzip
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SUPPORT, export, run_cli, tmpfs
from synthweb import SyntheticWeb
from webarchives import DATE, Resp, corpus_responses, html, write_warc

from backlinkspider.crawl.items import page_edges

CAPTURE_FIELDS = ("first_seen", "last_seen", "provenance")  # what an ingest and a crawl say differently


def fetched_responses(web: SyntheticWeb) -> list[Resp]:
    """What the crawl just fetched from the synthetic web (its request log, robots.txt aside), as the
    responses an archiver would have kept, in the order fetched."""
    responses = []
    for hostpath in web.requests_per_url():
        host, _, path = hostpath.partition("/")
        if path == "robots.txt":
            continue
        res = web.lookup(host, "/" + path)
        headers = [("Content-Type", res.content_type), *res.headers.items()]
        responses.append(Resp(f"http://{hostpath}", res.body, res.status, headers))
    return responses


def stripped(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in CAPTURE_FIELDS} for r in rows]


def ingest(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli("ingest", *args, cwd=cwd)


def in_standin(*commands: list[str]) -> subprocess.CompletedProcess:
    """Commands run in one process on the MongoDB stand-in (tests/support/mongo_standin.py)."""
    args = [a for command in commands for a in [*command, "--"]][:-1]
    return subprocess.run(
        [sys.executable, str(SUPPORT / "mongo_standin.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_warcs_of_the_crawled_pages_give_the_crawls_edges_on_both_backends(web, crawl, tmp_path):
    """The synthetic web crawled, then the responses it fetched archived (half gzip per record, half
    uncompressed) and ingested with 1 and 2 processes into SQLite and into the MongoDB stand-in: the
    same edge rows as the crawl's, in the same (edge_id) order, seen at the capture's WARC-Date."""
    _, crawled = crawl()
    responses = fetched_responses(web)
    half = len(responses) // 2
    gz = write_warc(tmp_path / "a.warc.gz", responses[:half])
    plain = write_warc(tmp_path / "b.warc", responses[half:], compress=False)
    for processes in ("1", "2"):
        uri = f"sqlite:///{tmp_path / f'ingest{processes}.db'}"
        res = ingest(str(gz), str(plain), "--index", uri, "--processes", processes)
        assert res.returncode == 0, res.stderr
        rows = export(uri)
        assert stripped(rows) == stripped(crawled)
        assert {(r["first_seen"], r["last_seen"]) for r in rows} == {(DATE, DATE)}
        summary = res.stderr.strip().splitlines()[-1]
        assert summary.startswith("backlinks: ingested 2 of 2 files"), res.stderr
        assert f"{len(responses):,} pages" in summary and "skipped: request" in summary
    mongo = in_standin(
        ["ingest", str(gz), str(plain), "--index", "mongodb://standin/backlinks"],
        ["export", "--format", "jsonl", "--index", "mongodb://standin/backlinks"],
    )
    assert mongo.returncode == 0, mongo.stderr
    assert stripped([json.loads(line) for line in mongo.stdout.splitlines()]) == stripped(crawled)


ROW_FIELDS = (
    "source_url",
    "target_url",
    "source_domain",
    "target_domain",
    "link_type",
    "anchor_text",
    "nofollow",
    "ugc",
    "sponsored",
)


def corpus_edges(responses: list[Resp]) -> list[tuple]:
    """The edges the crawl's pipeline makes of the corpus pages (each page as the crawl's extraction
    workers make it), as export rows' fields."""
    edges = (e for resp in responses for e in page_edges(resp.crawl(), keep_internal=False))
    return sorted(tuple(getattr(e, f) for f in ROW_FIELDS) for e in edges)


def row_fields(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(r[f] for f in ROW_FIELDS) for r in rows)


def test_the_corpus_ingested_gives_the_crawls_edges_on_both_backends(tmp_path):
    """461 real pages (../shared/corpus) in a WARC: every edge the crawl's pipeline makes of them, no
    other, and the same rows on the MongoDB stand-in."""
    responses = corpus_responses()
    warc = write_warc(tmp_path / "corpus.warc.gz", responses)
    expected = corpus_edges(responses)
    assert len(expected) > 7_000
    uri = f"sqlite:///{tmp_path / 'corpus.db'}"
    res = ingest(str(warc), "--index", uri)
    assert res.returncode == 0, res.stderr
    assert row_fields(export(uri)) == expected
    mongo = in_standin(
        ["ingest", str(warc), "--index", "mongodb://standin/backlinks"],
        ["export", "--format", "jsonl", "--index", "mongodb://standin/backlinks"],
    )
    assert mongo.returncode == 0, mongo.stderr
    assert [json.loads(line) for line in mongo.stdout.splitlines()] == export(uri)


# --- dates, lost links, targets ---------------------------------------------------------------------------


def capture(url: str, links: str, date: str, **warc: str) -> Resp:
    return Resp(url, html(links), **{"WARC-Date": date, **warc})


def test_capture_dates_rule_and_an_older_archive_reverts_nothing(tmp_path):
    """first/last seen are the captures' dates; a newer capture without a link marks it lost at its date;
    an older archive ingested afterwards changes no date and revives nothing."""
    uri = f"sqlite:///{tmp_path / 'dates.db'}"
    page = "http://www.source.example/"
    older = write_warc(
        tmp_path / "older.warc.gz",
        [
            capture(
                page,
                '<a href="http://a.example/">a</a><a href="http://b.example/">b</a>',
                "2024-03-01T00:00:00Z",
            )
        ],
        is_part_of="CC-MAIN-2024-10",
    )
    newer = write_warc(
        tmp_path / "newer.warc.gz",
        [capture(page, '<a href="http://a.example/">a</a>', "2025-06-01T12:00:00Z")],
        is_part_of="CC-MAIN-2025-26",
    )
    assert ingest(str(older), "--index", uri).returncode == 0
    assert ingest(str(newer), "--index", uri).returncode == 0
    after_newer = {r["target_url"]: r for r in export(uri)}
    assert (
        after_newer["http://a.example/"]["first_seen"],
        after_newer["http://a.example/"]["last_seen"],
    ) == (
        "2024-03-01T00:00:00Z",
        "2025-06-01T12:00:00Z",
    )
    assert after_newer["http://a.example/"]["lost_at"] is None
    assert after_newer["http://b.example/"]["lost_at"] == "2025-06-01T12:00:00Z"
    assert ingest(str(older), "--index", uri).returncode == 0  # the older archive again: reverts nothing
    assert {r["target_url"]: r for r in export(uri)} == after_newer


def test_targets_keeps_only_the_listed_domains_and_hosts(tmp_path):
    links = (
        '<a href="http://shop.greenleaf.co.uk/x">g</a><a href="http://greenleaf.co.uk/">g2</a>'
        '<a href="http://alice.github.io/">alice</a><a href="http://bob.github.io/">bob</a>'
        '<a href="http://other.example/">other</a>'
    )
    warc = write_warc(tmp_path / "t.warc.gz", [capture("http://src.example/", links, DATE)])
    targets = tmp_path / "targets.txt"
    targets.write_text("# watch-list\nGreenLeaf.co.uk\n\nhttps://Alice.GitHub.io/\n")
    uri = f"sqlite:///{tmp_path / 't.db'}"
    res = ingest(str(warc), "--index", uri, "--targets", str(targets))
    assert res.returncode == 0, res.stderr
    assert sorted(r["target_url"] for r in export(uri)) == [
        "http://alice.github.io/",
        "http://greenleaf.co.uk/",
        "http://shop.greenleaf.co.uk/x",
    ]
    targets.write_text("not a host/\n")
    res = ingest(str(warc), "--index", uri, "--targets", str(targets))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "line 1" in res.stderr, res.stderr


def test_targets_marks_a_known_pages_links_lost_when_it_has_none_left(tmp_path):
    """With --targets, a recapture whose links to the targets are all gone is written (the page is known)
    and marks them lost; a page never seen and with no link to a target is not written at all."""
    targets = tmp_path / "targets.txt"
    targets.write_text("target.example\n")
    uri = f"sqlite:///{tmp_path / 't.db'}"
    first = [
        capture("http://a.example/", '<a href="http://target.example/">t</a>', "2025-01-01T00:00:00Z"),
        capture("http://b.example/", '<a href="http://else.example/">e</a>', "2025-01-01T00:00:00Z"),
    ]
    later = [capture("http://a.example/", '<a href="http://else.example/">e</a>', "2025-02-01T00:00:00Z")]
    for name, pages in (("first", first), ("later", later)):
        warc = write_warc(tmp_path / f"{name}.warc.gz", pages)
        assert ingest(str(warc), "--index", uri, "--targets", str(targets)).returncode == 0
    rows = export(uri)
    assert [(r["source_url"], r["lost_at"]) for r in rows] == [("http://a.example/", "2025-02-01T00:00:00Z")]


# --- bad input ---------------------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over a directory of tmp_path."""
    directory = tmp_path / "www"
    directory.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", directory
    finally:
        server.shutdown()
        server.server_close()


def pages(prefix: str, n: int) -> list[Resp]:
    return [
        capture(f"http://{prefix}.example/{i}", f'<a href="http://t{i}.example/">{prefix}</a>', DATE)
        for i in range(n)
    ]


def sources_of(rows: list[dict]) -> set[str]:
    return {r["source_url"].split("/")[2] for r in rows}


@pytest.mark.parametrize("processes", ["1", "2"])
def test_bad_files_are_one_line_each_and_the_others_are_indexed(tmp_path, served, processes):
    """Not a WARC, a gzip member cut short, records with a garbage URL or date, a 404 URL in a paths file
    (gzipped, relative lines under --base-url): one error line per failed file, counted skips, the good
    files and the pages before the damage indexed, what was indexed before kept, exit 1; in one process
    and from worker processes (in the order the files end)."""
    base, www = served
    uri = f"sqlite:///{tmp_path / 'bad.db'}"
    assert (
        ingest(str(write_warc(tmp_path / "before.warc.gz", pages("before", 3))), "--index", uri).returncode
        == 0
    )
    before = export(uri)
    not_warc = tmp_path / "notes.warc.gz"
    not_warc.write_bytes(gzip.compress(b"<html>not a warc</html>"))
    whole = write_warc(tmp_path / "whole.warc.gz", pages("cut", 4)).read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(whole[:-40])  # inside the last response's gzip member
    garbage = [
        capture("http://[bad/", "", DATE),
        capture("http://garbage.example/date", "", "yesterday"),
        *pages("kept", 2),
    ]
    write_warc(www / "garbage.warc.gz", garbage)
    write_warc(www / "good.warc", pages("good", 2), compress=False)
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"garbage.warc.gz\nmissing.warc.gz\n\ngood.warc\n"))
    res = ingest(
        str(not_warc),
        str(tmp_path / "cut.warc.gz"),
        "--paths-file",
        str(listing),
        "--base-url",
        base + "/",
        "--index",
        uri,
        "--processes",
        processes,
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr
    errors = [line for line in lines if line.startswith("backlinks: error: ")]
    by_source = {e.split()[2]: e for e in errors[:-1]}
    assert len(by_source) == len(errors) - 1 == 3, res.stderr
    assert "not a WARC file" in by_source[f"{not_warc}:"]
    assert "cut short" in by_source[f"{tmp_path / 'cut.warc.gz'}:"]
    assert "HTTP 404" in by_source[f"{base}/missing.warc.gz:"]
    assert errors[-1] == "backlinks: error: 3 of 5 files failed"
    summary = next(line for line in lines if line.startswith("backlinks: ingested"))
    assert summary.startswith("backlinks: ingested 2 of 5 files") and "bad date 1" in summary
    assert "bad url 1" in summary
    rows = export(uri)
    assert sources_of(rows) == {"before.example", "cut.example", "kept.example", "good.example"}
    assert len([r for r in rows if r["source_url"].startswith("http://cut.")]) == 3
    assert [r for r in rows if r["source_url"].startswith("http://before.")] == before


def test_usage_errors_are_one_line(tmp_path):
    relative = tmp_path / "paths.txt"
    relative.write_text("crawl-data/CC-MAIN-2025-43/x.warc.gz\n")
    for args, needle in [
        ((), "no files"),
        (("--paths-file", str(relative)), "line 1 of"),
        (("--paths-file", str(tmp_path / "none.txt")), "cannot read"),
        (("x.warc", "--processes", "0"), "--processes"),
        (("x.warc", "--base-url", "https://data.commoncrawl.org/"), "--paths-file"),
        (("x.warc", "-s", "BACKLINKS_BATCH_SIZE=none"), "BACKLINKS_BATCH_SIZE"),
    ]:
        res = ingest(*args, "--index", f"sqlite:///{tmp_path / 'u.db'}")
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and needle in res.stderr, (
            args,
            res.stderr,
        )


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of its own, to make read-only."""
    with tmpfs(tmp_path, "16m") as mnt:
        yield mnt


def test_an_unwritable_index_is_one_line_before_reading_and_keeps_what_it_holds(tmp_path, small_fs):
    uri = f"sqlite:///{small_fs / 'links.db'}"
    assert ingest(str(write_warc(tmp_path / "a.warc.gz", pages("a", 3))), "--index", uri).returncode == 0
    before = export(uri)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    res = ingest(str(write_warc(tmp_path / "b.warc.gz", pages("b", 3))), "--index", uri)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("backlinks: error: ") and "links.db" in res.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)  # SQLite reads need -shm
    assert export(uri) == before


def test_provenance_and_referring_ips_come_from_the_archives(tmp_path):
    """Each edge names the archive it was last seen in (warcinfo's isPartOf), shown by export and query
    and filtered by --provenance; the summary counts the referring pages' servers (WARC-IP-Address) and
    their /24 (IPv4) and /48 (IPv6) subnets."""
    target = '<a href="http://www.target.example/">t</a>'
    newer = [
        capture("http://a.example/", target, DATE, **{"WARC-IP-Address": "203.0.113.5"}),
        capture("http://b.example/", target, DATE, **{"WARC-IP-Address": "203.0.113.9"}),
        capture("http://c.example/", target, DATE, **{"WARC-IP-Address": "2001:DB8:1::1"}),
    ]
    older = [
        capture("http://d.example/", target, "2024-12-01T00:00:00Z", **{"WARC-IP-Address": "198.51.100.7"}),
        capture(
            "http://e.example/", target, "2024-12-01T00:00:00Z", **{"WARC-IP-Address": "2001:db8:1:0::2"}
        ),
    ]
    uri = f"sqlite:///{tmp_path / 'p.db'}"
    for name, pages_, archive in (("n", newer, "CC-MAIN-2025-43"), ("o", older, "CC-MAIN-2024-51")):
        assert (
            ingest(
                str(write_warc(tmp_path / f"{name}.warc.gz", pages_, is_part_of=archive)), "--index", uri
            ).returncode
            == 0
        )
    assert {(r["source_url"], r["provenance"]) for r in export(uri)} == {
        ("http://a.example/", "CC-MAIN-2025-43"),
        ("http://b.example/", "CC-MAIN-2025-43"),
        ("http://c.example/", "CC-MAIN-2025-43"),
        ("http://d.example/", "CC-MAIN-2024-51"),
        ("http://e.example/", "CC-MAIN-2024-51"),
    }
    res = run_cli(
        "query", "target.example", "--provenance", "CC-MAIN-2024-51", "--format", "jsonl", "--index", uri
    )
    assert res.returncode == 0, res.stderr
    assert sorted(json.loads(line)["source_url"] for line in res.stdout.splitlines()) == [
        "http://d.example/",
        "http://e.example/",
    ]
    res = run_cli("summary", "target.example", "--format", "json", "--index", uri)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert (summary["referring_ips"], summary["referring_subnets"]) == (5, 3)


def test_a_full_disk_ends_in_one_line_and_keeps_what_the_index_held(tmp_path, small_fs):
    """The index's disk is full: exit 1 with one last line naming the index, and the index as it was.
    (SQLite notices when the index is opened; a disk that fills later is retried, then given up after
    BACKLINKS_WRITE_RETRY_SECONDS, shortened here, by crawl/batches.py's policy.)"""
    uri = f"sqlite:///{small_fs / 'links.db'}"
    assert ingest(str(write_warc(tmp_path / "a.warc.gz", pages("a", 3))), "--index", uri).returncode == 0
    before = export(uri)
    filler = small_fs / "filler"
    with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 65536)
    warc = write_warc(tmp_path / "b.warc.gz", pages("b", 300))
    res = ingest(str(warc), "--index", uri, "-s", "BACKLINKS_WRITE_RETRY_SECONDS=2")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("backlinks: error: ") and "links.db" in last, res.stderr
    filler.unlink()
    assert export(uri) == before
