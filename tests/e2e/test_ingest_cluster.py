"""``backlinks ingest`` on a cluster: worker processes sharing one ingest queue in a private redis-server
and one index (a SQLite file all of them write, as tests/e2e/test_cluster.py's crawl workers do: no
MongoDB server here), over WARC files written from the synthetic web's pages (tests/support/synthweb.py),
compared with the index one process without Redis makes of the same files."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from helpers import REPO, export, run_cli
from redisserver import RedisServer
from synthweb import SyntheticWeb
from webarchives import Resp, write_warc

from backlinkspider.archives import ArchiveReader
from backlinkspider.archives.filequeue import FILES_KEY, HEARTBEATS_KEY, LEASES_KEY, QUEUE_KEY

# The heartbeat TTL a fifth of the default (15 s), and the write batch small, so that the kill lands
# mid-file and the killed worker's file is back within 3 s rather than 15 (the same ratio of beats, every
# TTL/5, to the TTL).
TTL = 15 / 5
FILES = 12
ARGS = ["-s", f"BACKLINKS_HEARTBEAT_TTL={TTL}", "-s", "BACKLINKS_BATCH_SIZE=20"]


def write_warcs(web: SyntheticWeb, directory: Path) -> list[Path]:
    """The web's pages (every resource it serves, redirects included) as ``FILES`` gzipped WARC files,
    dealt round robin."""
    responses = [
        Resp(
            f"http://{key}", res.body, res.status, [("Content-Type", res.content_type), *res.headers.items()]
        )
        for key, res in sorted(web.resources.items())
    ]
    return [write_warc(directory / f"synth-{i:02d}.warc.gz", responses[i::FILES]) for i in range(FILES)]


def bad_files(directory: Path, good: Path) -> dict[Path, str]:
    """A file that is not WARC and a WARC file cut inside a gzip member, with what their failure says."""
    text = directory / "notes.warc.gz"
    text.write_text("these are notes, not an archive\n")
    cut = directory / "cut.warc.gz"
    cut.write_bytes(good.read_bytes()[:-100])
    return {text: "not a WARC file", cut: "cut short"}


def worker(
    env: dict, db: Path, paths_file: Path, log: Path, kill_mid: Path | None = None
) -> subprocess.Popen:
    """One ``backlinks ingest`` worker, as every machine runs it; ``kill_mid``: SIGKILLed mid that file."""
    command = (
        [sys.executable, str(REPO / "tests" / "support" / "ingestkill.py")]
        if kill_mid
        else [
            sys.executable,
            "-m",
            "backlinkspider.cli",
        ]
    )
    env = (
        {**env, "KILL_MID_FILE": str(kill_mid), "KILL_GATE": str(log.with_suffix(".gate"))}
        if kill_mid
        else env
    )
    args = ["ingest", "--paths-file", str(paths_file), "--index", f"sqlite:///{db}", *ARGS]
    return subprocess.Popen(
        [*command, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )


def sources_in(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {url for (url,) in conn.execute("SELECT url FROM pages")}


def leased_paths(client: redis.Redis) -> dict[str, str]:
    """Path -> worker, of every file leased now."""
    return {
        rec.split(b"\t", 1)[1].decode(): rec.split(b"\t", 1)[0].decode() for rec in client.hvals(LEASES_KEY)
    }


@pytest.fixture
def archives(tmp_path):
    web = SyntheticWeb(seed=11)
    good = write_warcs(web, tmp_path)
    bad = bad_files(tmp_path, good[3])
    paths_file = tmp_path / "paths.txt"
    paths_file.write_text("".join(f"{p}\n" for p in [*good, *bad]))
    return good, bad, paths_file


def test_two_workers_one_killed_mid_file_and_a_replacement_give_the_single_process_index(tmp_path, archives):
    """Two workers, one SIGKILLed mid-file (part of its file's edges written, its lease held) and a
    replacement started: the index is the single process's, row for row; the killed file came back within
    the TTL (3 s, a fifth of the default) plus one beat of its last heartbeat, the survivor having beaten
    for a TTL before the kill (nobody reaps sooner); the bad files are failed with their reasons and
    every other file is done; ``backlinks status`` shows the counts."""
    good, bad, paths_file = archives
    single = tmp_path / "single.db"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    res = run_cli("ingest", "--paths-file", str(paths_file), "--index", f"sqlite:///{single}", *ARGS, env=env)
    assert res.returncode == 1 and "2 of 14 files failed" in res.stderr, res.stderr
    expected = export(single)
    assert len(expected) > 100

    server = RedisServer(tmp_path).start()
    procs: list[subprocess.Popen] = []
    try:
        env = {**env, "REDIS_URL": server.url}
        client = redis.Redis.from_url(server.url)
        db = tmp_path / "cluster.db"
        victim_file = str(good[0])
        procs.append(worker(env, db, paths_file, tmp_path / "victim.log", kill_mid=good[0]))
        deadline = time.monotonic() + 60
        while victim_file not in leased_paths(client) and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = leased_paths(client).get(victim_file)
        assert victim == f"{socket.gethostname()}:{procs[0].pid}", (tmp_path / "victim.log").read_text()
        procs.append(worker(env, db, paths_file, tmp_path / "survivor.log"))
        # The survivor beats for a TTL (it reaps nobody before), then the victim dies mid-file.
        survivor = f"{socket.gethostname()}:{procs[1].pid}"
        while client.zscore(HEARTBEATS_KEY, survivor) is None and procs[1].poll() is None:
            time.sleep(0.02)
        time.sleep(TTL)
        (tmp_path / "victim.gate").touch()
        assert procs[0].wait(timeout=120) == -signal.SIGKILL, (tmp_path / "victim.log").read_text()
        killed_at = time.monotonic()
        assert leased_paths(client).get(victim_file) == victim, "the killed worker's lease is held"
        file_pages = {page.url for page in ArchiveReader(good[0])}
        written = sources_in(db) & file_pages
        assert written and written < file_pages, "killed mid-file: part of its pages are written"
        procs.append(worker(env, db, paths_file, tmp_path / "replacement.log"))
        back = None
        while back is None and time.monotonic() - killed_at < 4 * TTL:
            holder = leased_paths(client).get(victim_file)
            if (
                (holder is not None and holder != victim)
                or victim_file.encode() in client.lrange(QUEUE_KEY, 0, -1)
                or (holder is None and client.hget(FILES_KEY, victim_file) == b"done")
            ):
                back = time.monotonic() - killed_at
            time.sleep(0.02)
        assert back is not None and back <= TTL + TTL / 5 + 1, back
        codes = [p.wait(timeout=300) for p in procs[1:]]
        logs = {p: (tmp_path / f"{p}.log").read_text() for p in ("survivor", "replacement")}
        # A worker that recorded a bad file failed exits 1 (work lost), with the file's reason.
        assert sorted(codes) in ([0, 1], [1, 1]), logs
        for path, reason in bad.items():
            assert sum(f"{path}: " in log and reason in log for log in logs.values()) == 1, logs
        status = run_cli("status", env={**env, "COLUMNS": "500"})  # a failed file's line unwrapped
        assert status.returncode == 0, status.stderr
        text = " ".join(status.stdout.split())
        assert "ingest: files 14 queued 0 leased 0 done 12 failed 2 workers 0" in text, status.stdout
        for path, reason in bad.items():
            assert f"failed {path}: " in text and reason in text
        # The same command again queues nothing; --retry-failed queues the failed files, which fail again.
        again = run_cli(
            "ingest",
            "--retry-failed",
            "--paths-file",
            str(paths_file),
            "--index",
            f"sqlite:///{db}",
            *ARGS,
            env=env,
        )
        assert again.returncode == 1, again.stderr
        assert (
            "2 failed files queued again" in again.stderr and "0 files queued on the cluster" in again.stderr
        )
        assert "2 of 2 files failed" in again.stderr
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        server.stop()
    assert export(db) == expected  # every row, every field, the same


def test_a_dead_redis_is_one_line_and_processes_are_commands_on_a_cluster(tmp_path, archives):
    good, _, _ = archives
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:9/0"}  # nothing listens there
    res = run_cli("ingest", str(good[0]), "--index", f"sqlite:///{tmp_path / 'x.db'}", env=env)
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "cannot reach Redis at redis://127.0.0.1:9/0" in res.stderr
    assert not (tmp_path / "x.db").exists() or sources_in(tmp_path / "x.db") == set()
    two = run_cli("ingest", str(good[0]), "--processes", "2", env=env)
    assert two.returncode == 2 and "each `backlinks ingest` is one worker" in two.stderr
