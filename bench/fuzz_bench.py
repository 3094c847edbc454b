"""Fuzz benchmark: the fuzzing property of tests/unit/test_fuzz.py (``extract`` never raises and keeps its
invariants) for minutes instead of seconds, on generated HTML and on raw bytes; with ``--atheris`` (when
the atheris package is installed) also coverage-guided on raw bytes. Prints examples/s and failures, each
failing input once. Run:  python bench/fuzz_bench.py --minutes 5
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "support"), str(ROOT / "tests" / "unit")]

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_fuzz import BASES, check_page, documents  # noqa: E402

CONTENT_TYPES = ["text/html", "text/html; charset=windows-1252", "text/html; charset=shift_jis"]


def hypothesis_round(examples: int, failures: list[str]) -> int:
    """One run of ``examples`` generated documents and as many byte strings; returns examples run."""
    count = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(documents, st.binary(max_size=2000), st.sampled_from(CONTENT_TYPES))
    def run(doc, raw, content_type):
        nonlocal count
        count += 1
        base, markup = doc
        for body, ctype in ((markup.encode("utf-8", "surrogatepass"), "text/html"), (raw, content_type)):
            try:
                check_page(base, body, {"Content-Type": ctype})
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc} on {body[:200]!r} ({ctype})")
                raise

    with contextlib.suppress(Exception):  # recorded above, as hypothesis shrank it
        run()
    return count * 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--atheris", type=int, default=0, metavar="RUNS", help="atheris runs after hypothesis")
    args = ap.parse_args()

    failures: list[str] = []
    examples, start = 0, time.monotonic()
    while time.monotonic() - start < args.minutes * 60:
        examples += hypothesis_round(1000, failures)
    seconds = time.monotonic() - start
    unique = sorted(set(failures))
    print(f"hypothesis: {examples:,} examples in {seconds:.0f}s = {examples / seconds:,.0f} examples/s")
    print(f"failures: {len(unique)}")
    for failure in unique[:20]:
        print("  " + failure)

    if args.atheris:
        try:
            import atheris
        except ImportError:
            print("atheris: not installed (pip install atheris), skipped")
        else:
            runs = 0

            def one(data: bytes) -> None:
                nonlocal runs
                runs += 1
                fdp = atheris.FuzzedDataProvider(data)
                ctype = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
                check_page(BASES[0], fdp.ConsumeBytes(fdp.remaining_bytes()), {"Content-Type": ctype})

            start = time.monotonic()
            atheris.Setup([sys.argv[0], f"-runs={args.atheris}"], one)
            with contextlib.suppress(SystemExit):
                atheris.Fuzz()
            seconds = time.monotonic() - start
            print(
                f"atheris: {runs:,} runs in {seconds:.0f}s = {runs / seconds:,.0f} runs/s (a failure stops it)"
            )
    print(
        f"reproduce: {sys.executable} bench/fuzz_bench.py --minutes {args.minutes:g} --atheris {args.atheris}"
    )
    sys.exit(1 if unique else 0)


if __name__ == "__main__":
    main()
