"""The page's questions in a real headless Chromium (Debian's, through Playwright) against ``backlinks
serve`` on tests/support/questions_web.py's web: the live history is the first chart and draws the summary's
history; each question's tab shows the CLI's rows, its CSV download is the CLI's CSV, and the "disavow
these" download is the disavow file of the domains shown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import questions_web as qw
from helpers import run_cli
from test_api import Server
from test_web import browser  # noqa: F401  (the Chromium fixture)

from backlinkspider.index import open_index

WEB = qw.build()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('webq') / 'links.db'}"
    with open_index(uri) as idx:
        qw.write(idx, WEB)
    return uri


@pytest.fixture(scope="module")
def server(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(db, tmp_path_factory.mktemp("webq-serve") / "serve.log", None, "--workers", "1")
    yield s
    s.stop()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


def loads(page: Any) -> int:
    return int(page.get_attribute("#q-rows", "data-loads") or 0)


def wait_question(page: Any, before: int) -> None:
    page.wait_for_function(f"Number(document.querySelector('#q-rows').dataset.loads || 0) > {before}")


def look_up(page: Any, server: Server, target: str) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#target", target)
    before = loads(page)
    page.click("#search button")
    wait_question(page, before)


def tab(page: Any, name: str) -> None:
    before = loads(page)
    page.click(f'.tabs button[data-tab="{name}"]')
    wait_question(page, before)


def first_column(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all("#q-rows tbody tr", "trs => trs.map(tr => tr.children[0].textContent)")
    )


def cli(db: str, *args: str, fmt: str = "jsonl") -> str:
    res = run_cli(*args, "--format", fmt, "--index", db)
    assert res.returncode == 0, res.stderr
    return str(res.stdout)


def downloaded(page: Any, selector: str, tmp_path: Path) -> str:
    with page.expect_download() as info:
        page.click(selector)
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return str(path.read_text(encoding="utf-8"))


def test_the_live_history_is_the_first_chart(page: Any, server: Server, db: str) -> None:
    history = json.loads(cli(db, "summary", qw.ME, fmt="json"))["history"]
    look_up(page, server, qw.ME)
    first = page.eval_on_selector("#charts canvas", "c => c.id")
    assert first == "chart-level"
    drawn = page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('chart-level'));
                   return {labels: c.data.labels, links: c.data.datasets[0].data,
                           domains: c.data.datasets[1].data}; }"""
    )
    assert drawn["labels"] == [h["date"] for h in history]
    assert drawn["links"] == [h["backlinks"] for h in history]
    assert drawn["domains"] == [h["referring_domains"] for h in history]


TABS = [  # (tab, the CLI command it answers, the first column's key)
    ("refdomains", ["intersect", qw.ME], "referring_domain"),
    ("anchors", ["anchors", qw.ME], "anchor"),
    ("broken", ["broken", qw.ME], "target_url"),
]


@pytest.mark.parametrize(("name", "args", "key"), TABS)
def test_each_tab_shows_the_cli_s_rows_and_downloads_its_csv(
    page: Any, server: Server, db: str, tmp_path: Path, name: str, args: list[str], key: str
) -> None:
    rows = [json.loads(line) for line in cli(db, *args).splitlines()]
    look_up(page, server, qw.ME)
    if name != "refdomains":
        tab(page, name)
    assert first_column(page) == [str(r[key]) or "(empty)" for r in rows]
    assert downloaded(page, "#q-csv", tmp_path) == cli(db, *args, fmt="csv")


def test_outgoing_links_of_a_referrer(page: Any, server: Server, db: str) -> None:
    rows = [json.loads(line) for line in cli(db, "outlinks", "ref1.net").splitlines()]
    look_up(page, server, "ref1.net")
    tab(page, "outlinks")
    assert first_column(page) == [r["target_domain"] for r in rows]


def test_intersect_and_disavow_these(page: Any, server: Server, db: str, tmp_path: Path) -> None:
    args = ["intersect", *qw.COMPETITORS, "--not", qw.ME, "--min", "2"]
    rows = [json.loads(line) for line in cli(db, *args).splitlines()]
    look_up(page, server, qw.ME)
    tab(page, "intersect")
    assert page.text_content("#q-info") == "Name the competitors to compare."
    page.fill("#intersect-form input[name=targets]", " ".join(qw.COMPETITORS))
    page.fill("#intersect-form input[name=not]", qw.ME)
    page.fill("#intersect-form input[name=min]", "2")
    before = loads(page)
    page.click("#intersect-form button")
    wait_question(page, before)
    domains = [r["referring_domain"] for r in rows]
    assert first_column(page) == domains
    disavow = downloaded(page, "#q-disavow", tmp_path)
    assert disavow.splitlines()[3:] == [f"domain:{d}" for d in sorted(domains)]
    listed = tmp_path / "shown.txt"
    listed.write_text("\n".join(domains), encoding="utf-8")
    res = run_cli("disavow", "--domains-file", str(listed), "--index", db)
    assert disavow.splitlines()[3:] == res.stdout.splitlines()[3:]
    csv_rows = list(csv.DictReader(io.StringIO(downloaded(page, "#q-csv", tmp_path))))
    assert [r["referring_domain"] for r in csv_rows] == domains


def test_an_empty_answer_says_why(page: Any, server: Server) -> None:
    look_up(page, server, qw.COMPETITORS[1])
    tab(page, "broken")
    assert page.text_content("#q-info") == f"no broken pages of domain {qw.COMPETITORS[1]} have links"
    assert first_column(page) == []
