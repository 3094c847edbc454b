"""A synthetic web with a link farm, for the domain scores (issue 8), served by ``synthweb.ProxyServer``.

- An organic web that grows by preferential attachment (each new site links to a few older ones, chosen
  by how many links they already have) plus random links, with a few link-exchange pairs.
- A link farm: dozens of sites, each linking to most of the others and to a few money sites, reached from
  the organic web only by a few spam links (and comment / sponsored links that do not count).
- nofollow, ugc and sponsored links everywhere, which the domain graph must not count; the seed, a
  directory, links to every organic site with rel="nofollow" only (the crawler follows them; they are no
  votes).

The ground truth is the generator's own record of each link it writes: ``followed_graph()`` is the domain
graph a correct index gives, with the number of links behind each edge.
"""

from __future__ import annotations

import html
import random
import threading
from collections import Counter

from synthweb import Resource

SEED = "http://www.webdirectory.org/"
RELS = ("nofollow", "ugc", "sponsored", "nofollow ugc")


class FarmWeb:
    """Generate the web for ``seed``: ``organic`` sites, a farm of ``farm`` sites pushing ``money`` sites."""

    def __init__(self, seed: int = 11, organic: int = 60, farm: int = 30, money: int = 3) -> None:
        self.rng = random.Random(seed)
        self.resources: dict[str, Resource] = {}
        self.log: list[tuple[float, str, str, str]] = []
        self.log_lock = threading.Lock()
        self.aborted: list[str] = []
        # A clean web: synthweb.ProxyServer's latency and hanging pages stay off.
        self.latency = 0.0
        self.hang = 0.0
        self.hanging: set[str] = set()
        self.pages: dict[str, list[tuple[str, str, str]]] = {}  # page URL -> (href, text, rel)
        self.domain_of: dict[str, str] = {}  # host -> registered domain
        tlds = (".com", ".co.uk", ".org", ".net")
        self.organic = [f"{w}{i:02d}{tlds[i % 4]}" for i, w in enumerate(self._words(organic))]
        self.farm = [f"best-deals-{i:02d}.info" for i in range(farm)]
        self.money = [f"cheap-pills-{j}.biz" for j in range(money)]
        for d in self.organic:
            self._site(("www." if not d.endswith(".org") else "blog.") + d, d)
        for d in (*self.farm, *self.money):
            self._site(d, d)
        self._site("www.webdirectory.org", "webdirectory.org")
        self.exchanges: list[tuple[str, str]] = []
        self._grow()
        self._link_farm()
        self._unfollowed()
        self._directory()
        for url, links in self.pages.items():
            body = "".join(
                f'<a href="{html.escape(h)}"{f" rel={chr(34)}{r}{chr(34)}" if r else ""}>{html.escape(t)}</a>\n'
                for h, t, r in links
            )
            self.resources[url.split("://", 1)[1]] = Resource(
                200,
                f"<!DOCTYPE html><html><head><title>{url}</title></head><body>{body}</body></html>".encode(),
            )

    # --- ground truth -------------------------------------------------------------------------------

    def followed_graph(self) -> dict[tuple[str, str], int]:
        """(source domain, target domain) -> live followed external links, as the index must group them."""
        edges: Counter[tuple[str, str]] = Counter()
        for url, links in self.pages.items():
            s = self.domain_of[url.split("/")[2]]
            for href, _text, rel in links:
                t = self.domain_of[href.split("/")[2]]
                if not rel and s != t:
                    edges[s, t] += 1
        return dict(edges)

    # --- serving (the interface synthweb.ProxyServer uses) -------------------------------------------

    def lookup(self, host: str, path: str) -> Resource:
        if path == "/robots.txt":
            return Resource(404, b"", "text/plain")
        return self.resources.get(host + path) or Resource(404, b"<html><body>not here</body></html>")

    # --- generation ----------------------------------------------------------------------------------

    def _words(self, n: int) -> list[str]:
        words = ["garden", "tech", "city", "food", "travel", "books", "music", "health", "sport", "film"]
        return [f"{self.rng.choice(words)}-{self.rng.choice(words)}" for _ in range(n)]

    def _site(self, host: str, domain: str) -> None:
        self.domain_of[host] = domain
        self.pages[f"http://{host}/"] = []

    def _host(self, domain: str) -> str:
        return next(h for h, d in self.domain_of.items() if d == domain)

    def _link(self, source_domain: str, target_domain: str, rel: str = "", page: str = "") -> None:
        """A link from a page of ``source_domain`` (its home, or its article ``/a``) to a page of
        ``target_domain`` not yet linked from that page."""
        host = self._host(source_domain)
        source = f"http://{host}/{page}" if page else self.rng.choice([f"http://{host}/", f"http://{host}/a"])
        links = self.pages.setdefault(source, [])
        if source.endswith("/a") and not any(h == source for h, _, _ in self.pages[f"http://{host}/"]):
            self.pages[f"http://{host}/"].append((source, "article", ""))  # every page is reachable
        t = self._host(target_domain)
        for target in (f"http://{t}/", f"http://{t}/a"):
            if not any(h == target for h, _, _ in links):
                links.append((target, target_domain.split(".")[0], rel))
                if target.endswith("/a"):
                    self.pages.setdefault(target, [])
                    if not any(h == target for h, _, _ in self.pages[f"http://{t}/"]):
                        self.pages[f"http://{t}/"].append((target, "article", ""))
                return

    def _grow(self) -> None:
        """Preferential attachment: site i links to 3 older sites picked by in-links + 1; one in three
        also links to any random site."""
        indegree: Counter[str] = Counter()
        for i, d in enumerate(self.organic[1:], 1):
            older = self.organic[:i]
            weights = [indegree[o] + 1 for o in older]
            targets = set()
            while len(targets) < min(3, i):
                targets.add(self.rng.choices(older, weights)[0])
            if self.rng.random() < 1 / 3:
                targets.add(self.rng.choice([o for o in self.organic if o != d]))
            for t in sorted(targets):
                self._link(d, t)
                if self.rng.random() < 0.2:  # several links behind one domain edge
                    self._link(d, t)
                indegree[t] += 1
        pool = self.organic[10:]
        self.rng.shuffle(pool)
        for a, b in zip(pool[0:10:2], pool[1:10:2], strict=True):  # link exchanges
            self._link(a, b)
            self._link(b, a)
            self.exchanges.append((a, b))

    def _link_farm(self) -> None:
        for s in self.farm:
            for t in self.rng.sample([f for f in self.farm if f != s], round(0.7 * (len(self.farm) - 1))):
                self._link(s, t, page="")
            for m in self.money:
                self._link(s, m)
        for i, m in enumerate(self.money):  # money sites look like shops: a few links out
            self._link(m, self.organic[i])
        for f in self.rng.sample(self.farm, 4):  # farms link to popular sites to look organic
            self._link(f, self.organic[0])
        for s, f in zip(self.rng.sample(self.organic[20:], 3), self.farm, strict=False):  # spam links in
            self._link(s, f)

    def _unfollowed(self) -> None:
        """Links that are no votes: comment spam to the farm, sponsored links to the money sites,
        nofollow links among organic sites."""
        for d in self.rng.sample(self.organic, 20):
            target = self.rng.choice([*self.farm, *self.money, *self.organic])
            if target != d:
                self._link(d, target, rel=self.rng.choice(RELS))

    def _directory(self) -> None:
        hub = self.pages[SEED]
        for d in self.organic:
            hub.append((f"http://{self._host(d)}/", d, "nofollow"))
