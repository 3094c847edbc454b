"""What the test files share: running the real CLI and a cluster worker, the ground truth as the export's
fields, and reading an index back with ``backlinks export``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent
REPO = SUPPORT.parents[1]
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
EDGE_FIELDS = (
    "source_url",
    "target_url",
    "link_type",
    "anchor_text",
    "nofollow",
    "ugc",
    "sponsored",
    "source_domain",
    "target_domain",
)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*BACKLINKS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def edge_key(d: dict) -> tuple:
    """An exported record as the ground truth's fields."""
    return tuple(d[f] for f in EDGE_FIELDS)


def truth(web, keep_internal: bool = False, calendar_pages: int = CALENDAR_BUDGET) -> set[tuple]:
    """The synthetic web's ground truth as ``edge_key`` tuples, with ``calendar_pages`` of the calendar's
    endless pages (as many as the per-host budget lets through)."""
    return {
        tuple(getattr(e, f) for f in EDGE_FIELDS)
        for e in web.expected(keep_internal, calendar_pages=calendar_pages)
    }


def export(db: Path | str) -> list[dict]:
    """Every record of an index (a SQLite file or a URI), read back with ``backlinks export``."""
    uri = db if isinstance(db, str) and "://" in db else f"sqlite:///{db}"
    res = run_cli("export", "--index", uri)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def exported_edges(db: Path | str) -> set[tuple]:
    """``export`` as a set of ``edge_key`` tuples."""
    return {edge_key(r) for r in export(db)}


def worker(env, db, *args, seeds=None, log=None):
    """One `scrapy crawl backlinks` worker process, as the cluster runs it."""
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "backlinks",
        "-s",
        f"BACKLINKS_INDEX=sqlite:///{db}",
        *FAST,
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
        "-s",
        "BACKLINKS_IDLE_TIMEOUT=4",
        "-s",
        "LOG_LEVEL=INFO",
        *args,
    ]
    if seeds:
        cmd += ["-a", f"seeds={seeds}"]
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w") if log else subprocess.DEVNULL,
    )


def exit_codes(workers: list[subprocess.Popen], logs: list[Path], timeout: float = 300) -> list[int]:
    """The workers' exit codes; a worker still running after ``timeout`` seconds is killed and the test
    fails with the end of every worker's log (why a worker stayed is there, not in a TimeoutExpired)."""
    try:
        return [w.wait(timeout=timeout) for w in workers]
    except subprocess.TimeoutExpired:
        for w in workers:
            w.kill()
            w.wait()
        tails = "\n".join(f"--- {log}\n" + "".join(log.read_text().splitlines(True)[-15:]) for log in logs)
        pytest.fail(f"a worker still ran after {timeout} s:\n{tails}")


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``16m``) mounted at ``where/fs``, so a test can fill it or make it read-only;
    needs root to mount, as CI has: the test is skipped otherwise."""
    mnt = where / "fs"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)
