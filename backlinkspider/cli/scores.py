"""``backlinks graph``, ``rank`` and ``domains``: the domain graph, its scores and the scored list."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import click
from rich.console import Console

from backlinkspider import query as queries
from backlinkspider.cli.options import Failure, format_option, index_option, limit_option
from backlinkspider.cli.render import domains_table, write
from backlinkspider.index import open_index
from backlinkspider.query import output
from backlinkspider.records import SCORE_FIELDS, SCORE_SORTS
from backlinkspider.redact import redact
from backlinkspider.scores import EmptyGraph, NothingTrusted, rank_index, read_graph, trusted_domains

GRAPH_FIELDS = ("source_domain", "target_domain", "links", "reciprocal")


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "tsv"]), default="jsonl", show_default=True
)
@index_option
def graph(fmt: str, index: str) -> None:
    """The domain graph: an edge per pair of registered domains with a live, followed link between them
    (source_domain, target_domain, links, reciprocal), grouped in the index. Loads into networkx, Gephi,
    WebGraph."""
    with open_index(index, create=False) as idx:
        try:
            g = read_graph(idx.graph_domains(), idx.domain_graph(), keep_links=True)
        except EmptyGraph as exc:
            raise Failure(f"{exc} in {redact(index)}") from None
    assert g.links is not None
    names = g.names.tolist()
    pairs = zip(
        g.sources().tolist(), g.indices.tolist(), g.links.tolist(), g.reciprocal().tolist(), strict=True
    )
    rows = (dict(zip(GRAPH_FIELDS, (names[s], names[t], n, r), strict=True)) for s, t, n, r in pairs)
    output.write(rows, fmt, sys.stdout, GRAPH_FIELDS)  # type: ignore[arg-type]  # click.Choice


@click.command()
@click.option(
    "--trusted",
    type=click.File(encoding="utf-8"),
    help="Trusted domains, one a line, for TrustRank and spam mass (without it both are null).",
)
@index_option
def rank(trusted: Any, index: str) -> None:
    """Compute and store every domain's scores from the domain graph: PageRank, authority (0-100),
    trust (TrustRank), spam mass, link farms, reciprocal and referring domains."""
    seeds = trusted_domains(trusted) if trusted else None
    if trusted and not seeds:
        raise Failure(f"no domain in {trusted.name}")
    with open_index(index, create=False) as idx, _RankProgress() as progress:
        try:
            done = rank_index(idx, seeds, progress)
        except EmptyGraph:
            raise Failure(
                f"nothing to rank: {redact(index)} holds no live, followed link between two domains"
            ) from None
        except NothingTrusted as exc:
            raise Failure(f"{exc} (from {trusted.name})") from None
    s = done.scores
    if s.unknown_trusted:
        click.echo(
            f"backlinks: note: {len(s.unknown_trusted)} trusted domains are not in the domain graph:"
            f" {', '.join(s.unknown_trusted[:10])}{' ...' if len(s.unknown_trusted) > 10 else ''}",
            err=True,
        )
    click.echo(
        f"ranked {s.graph.n:,} domains, {s.graph.edges:,} edges: pagerank {s.iterations} iterations"
        + (f", trust {s.trust_iterations} iterations" if s.trust is not None else "")
        + f", {s.farms} link farms; read {done.read_seconds:.1f} s, ranked {done.rank_seconds:.1f} s,"
        f" stored {done.write_seconds:.1f} s"
    )


class _RankProgress:
    """The stage of a rank and its count, live on stderr when it is a terminal (else silent: the result
    line says it all)."""

    LABELS: ClassVar[dict[str, str]] = {
        "read": "reading the domain graph: {done:,} edges",
        "pagerank": "PageRank: iteration {done}",
        "trustrank": "TrustRank: iteration {done}",
        "farms": "finding link farms",
        "write": "storing {total:,} domains' scores",
    }

    def __enter__(self) -> _RankProgress:
        console = Console(stderr=True)
        self.status = console.status("") if console.is_terminal else None
        if self.status:
            self.status.start()
        return self

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.status:
            self.status.update(self.LABELS[stage].format(done=done, total=total))

    def __exit__(self, *exc: object) -> None:
        if self.status:
            self.status.stop()


@click.command()
@click.option("--sort", type=click.Choice(SCORE_SORTS), default="authority", show_default=True)
@click.option("--farm-only", is_flag=True, help="Only link farm members and the sites they push.")
@limit_option
@format_option
@index_option
def domains(sort: str, farm_only: bool, limit: int, fmt: str, index: str) -> None:
    """Scored domains, best first: every score `backlinks rank` stored (null trust and spam mass when it
    had no trusted list)."""
    with open_index(index, create=False) as idx:
        rows = queries.domains(idx, sort, farm_only=farm_only, limit=limit or None)  # type: ignore[arg-type]
        fresh = queries.freshness(idx, idx.scores_run())
    if fresh["scores_computed_at"] is None:
        raise Failure(f"no scores in {redact(index)}: run `backlinks rank` first")
    if fresh["scores_note"]:
        click.echo(f"backlinks: note: {fresh['scores_note']}", err=True)
    if fmt == "table":
        domains_table(rows, f"Domains by {sort} (computed {fresh['scores_computed_at']})")
    else:
        write(rows, fmt, fields=SCORE_FIELDS)
