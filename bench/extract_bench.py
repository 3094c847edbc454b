"""Extraction microbenchmark: pages/s on one core over the real pages of ../shared/corpus.

Times ``extract()`` on Scrapy HtmlResponses, decoding included (as in a crawl), and ``extract_html()`` on
already-decoded text. Run:  python bench/extract_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

from scrapy.http import HtmlResponse

from backlinkspider.crawl.extraction import page_of
from backlinkspider.standards.encoding import decode_html
from backlinkspider.standards.extract import extract_html

CORPUS = Path(os.environ.get("BACKLINKS_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    pages = [json.loads(line) for line in (CORPUS / "index.jsonl").read_text().splitlines()]
    bodies = [(p["url"], gzip.decompress((CORPUS / p["page"]).read_bytes())) for p in pages]
    mb = sum(len(b) for _, b in bodies) / 1e6

    best_resp = best_text = float("inf")
    links = 0
    for _ in range(args.rounds):
        responses = [HtmlResponse(url=u, body=b, headers={"Content-Type": "text/html"}) for u, b in bodies]
        t = time.perf_counter()
        links = sum(len(page_of(r).links) for r in responses)
        best_resp = min(best_resp, time.perf_counter() - t)
        texts = [(r.url, *decode_html(r.body, "text/html")) for r in responses]
        t = time.perf_counter()
        for url, text, encoding in texts:
            extract_html(url, text, encoding=encoding)
        best_text = min(best_text, time.perf_counter() - t)

    n = len(bodies)
    print(
        f"corpus: {n} pages, {mb:.1f} MB ({mb * 1e3 / n:.0f} KB/page), {links:,} links; best of {args.rounds}"
    )
    print(f"extract(response), decoding included: {n / best_resp:,.0f} pages/s  ({mb / best_resp:.1f} MB/s)")
    print(f"extract_html(text), decoded already:  {n / best_text:,.0f} pages/s  ({mb / best_text:.1f} MB/s)")
    print(f"reproduce: {sys.executable} bench/extract_bench.py --rounds {args.rounds}")


if __name__ == "__main__":
    main()
