"""Shared fixtures (the synthetic web behind a forward proxy, crawling it with the real CLI, a private
redis-server), and the lanes: every test is marked by the folder it is in (``unit``, ``contract``,
``e2e``) and by what it needs (``cluster``, ``chaos``, ``browser``, ``fuzz``, ``slow``), see pyproject.toml.
The helpers the test files share are in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CALENDAR_BUDGET, FAST, export, run_cli
from redisserver import RedisServer
from synthweb import HUB, ProxyServer, SyntheticWeb

LANES = ("unit", "contract", "e2e")
# What a test file (or one test, ``file::name``) needs, as markers: ``-m "not browser"``,
# ``-m "not cluster and not chaos"`` ...
NEEDS = {
    "test_cluster.py": ("cluster", "chaos"),
    "test_ingest_cluster.py": ("cluster", "chaos"),
    "test_ingest_queue.py": ("cluster",),
    "test_frontier.py": ("cluster",),
    "test_frontier_entries.py": ("cluster", "fuzz"),
    "test_pipeline.py": ("chaos",),
    "test_resume.py": ("chaos",),
    "test_web.py": ("browser",),
    "test_fuzz.py": ("fuzz",),
    "test_api.py::test_fuzzed_requests_get_no_5xx_and_match_the_schema": ("fuzz",),
}
# The longest tests (20 s or more in the parallel run, 6 workers on a quiet 2-core machine), longest
# first: marked ``slow`` and run first, so that with xdist they overlap each other and the many short tests
# rather than end the run alone.
SLOW = [
    "test_ingest.py::test_the_corpus_ingested_gives_the_crawls_edges_on_both_backends",
    "test_cluster.py::test_redis_stopped_for_20_s_and_3_minutes_mid_crawl",
    "test_cluster.py::test_a_killed_worker_loses_nothing_and_its_urls_are_back_within_the_ttl",
    "test_frontier_faults.py::test_a_redis_cluster_stopped_and_restarted_mid_crawl_loses_nothing",
    "test_frontier_faults.py::test_a_stall_of_one_and_a_half_ttl_reaps_nobody_alive",
    "test_frontier_faults.py::test_a_worker_killed_between_its_index_write_and_its_links_push_loses_none",
    "test_frontier_faults.py::test_a_window_of_maxmemory_below_use_loses_nothing_and_refetches_nothing",
    "test_frontier_faults.py::test_a_script_blocking_redis_for_6_s_loses_nothing_and_refetches_nothing",
    "test_safety.py::test_a_calendar_trap_ends_early_and_a_numbered_archive_loses_nothing",
    "test_cluster.py::test_failing_and_slow_pages_end_as_failed_pages_fetched_retry_times_plus_one",
    "test_resume.py::test_an_interrupted_crawl_resumes_where_it_stopped",
    "test_frontier.py::test_a_recrawl_is_queued_once_by_the_cluster",
    "test_pipeline.py::test_a_disk_full_mid_crawl_pauses_the_crawl_and_loses_nothing",
    "test_ingest.py::test_warcs_of_the_crawled_pages_give_the_crawls_edges_on_both_backends",
    "test_frontier.py::test_two_workers_crawl_as_one",
    "test_ingest_cluster.py::test_two_workers_one_killed_mid_file_and_a_replacement_give_the_single_process_index",
    "test_frontier.py::test_the_per_host_delay_holds_across_workers",
    "test_profile.py::test_a_recrawl_after_the_web_changed_marks_exactly_the_removed_edges_lost",
    "test_archives.py::test_corpus_warc_pages_are_the_crawls_and_the_expected_links",
    "test_safety.py::test_huge_compressed_and_slow_pages_end_within_the_download_limits",
    "test_crawl.py::test_recrawl_is_idempotent_and_moves_last_seen",
    "test_crawl.py::test_crawl_into_mongodb_gives_the_same_export_as_sqlite",
    "test_archives.py::test_wat_departs_from_warc_only_as_documented",
    "test_frontier.py::test_bloom_false_positive_rate_is_within_its_bound",
    "test_frontier.py::test_seed_status_and_idle_close",
    "test_api.py::test_fuzzed_requests_get_no_5xx_and_match_the_schema",
    "test_api.py::test_history_counts_add_up_to_the_summary",
    "test_cli.py::test_query_scopes_and_filters",
    "test_crawl.py::test_crawl_indexes_exactly_the_ground_truth",
]
# Files whose module-scoped fixtures are costly (the scored farm web crawled twice, a browser and a server,
# a bench index): each runs whole on one xdist worker, so the fixture is made once, not once per worker.
# Every other test is scheduled on its own (see pytest_xdist_make_scheduler).
GROUPED = {"test_rank.py", "test_web.py", "test_bench_build.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's loadgroup, by file name rather than by ``xdist_group`` marks (xdist 3.8 groups by a node id
    suffix that pytest 9 no longer reads): the GROUPED files first, each on one worker, then every other
    test on the next free worker, in collection order (the ``slow`` ones first)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.rsplit("/", 1)[-1] in GROUPED else nodeid

    return ByFile(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its lane (the folder under tests/ it is in) and what it needs; put the tests
    marked ``slow`` first, so that with xdist they start at once and overlap the rest."""
    root = Path(__file__).parent
    for item in items:
        lane = item.path.relative_to(root).parts[0]
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        for need in (*NEEDS.get(item.path.name, ()), *NEEDS.get(name, ())):
            item.add_marker(getattr(pytest.mark, need))
        if name in SLOW:
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(SLOW)}
    items.sort(
        key=lambda item: rank.get(f"{item.path.name}::{getattr(item, 'originalname', item.name)}", len(SLOW))
    )


@pytest.fixture(scope="session")
def web() -> SyntheticWeb:
    return SyntheticWeb()


@pytest.fixture(scope="session")
def proxy(web: SyntheticWeb):
    with ProxyServer(web) as server:
        yield server


@pytest.fixture
def proxy_env(proxy: ProxyServer) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env.update(http_proxy=proxy.url, https_proxy=proxy.url)
    return env


@pytest.fixture(scope="session")
def crawled_synthweb(tmp_path_factory: pytest.TempPathFactory, proxy: ProxyServer) -> str:
    """One crawl of the synthetic web into SQLite, made once per test run and shared read-only by every test
    that reads it (test_profile, test_api, test_web), whichever xdist worker runs them: the first worker to
    get here crawls, under a lock the others wait on. Returns the index URI."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's directory, shared by its workers
    directory = root / "crawled-synthweb"
    uri = f"sqlite:///{directory / 'links.db'}"
    with open(root / "crawled-synthweb.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "done").exists():
            directory.mkdir(exist_ok=True)
            env = {
                k: v
                for k, v in os.environ.items()
                if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")
            }
            env.update(http_proxy=proxy.url, https_proxy=proxy.url)
            args = [HUB, "--index", uri, *FAST, "-s", f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}"]
            res = run_cli("crawl", *args, env=env)
            assert res.returncode == 0, res.stderr
            (directory / "done").write_text("")
    return uri


@pytest.fixture
def crawl(proxy_env: dict, web: SyntheticWeb, tmp_path: Path):
    """Crawl the synthetic web with ``backlinks crawl``; returns (index URI, the export as dicts)."""

    def _crawl(
        *extra: str, db: Path | None = None, seeds: tuple[str, ...] = (HUB,)
    ) -> tuple[str, list[dict]]:
        uri = f"sqlite:///{db or tmp_path / 'links.db'}"
        web.reset_log()
        res = run_cli(
            "crawl",
            *seeds,
            "--index",
            uri,
            *FAST,
            "-s",
            f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
            *extra,
            env=proxy_env,
        )
        assert res.returncode == 0, res.stderr
        return uri, export(uri)

    return _crawl


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
