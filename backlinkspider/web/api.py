"""The JSON API under ``/api/v1``: read-only, GET only, every answer typed in the OpenAPI schema.

A target is a query parameter (a URL does not fit in a path). Bad input is a 400 with a one-line
``detail``; a target with no backlinks is a 404; an index that cannot be read is a 503; never a 500.
The answers are the documents of ``backlinkspider.records`` made by ``backlinkspider.query``, as the CLI
prints them; each is validated against its declared response model and serialized by it (``_body``), so
the schema and the JSON cannot drift apart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter

from backlinkspider import query as queries
from backlinkspider.index import LinkIndex
from backlinkspider.query import output
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.records import (
    QUERY_FIELDS,
    Backlink,
    BacklinksPage,
    Domains,
    Filters,
    History,
    LinkType,
    Listed,
    Rel,
    ScopeChoice,
    ScoreSort,
    Sort,
    Summary,
    Target,
    TargetDoc,
)
from backlinkspider.records import Status as LinkStatus
from backlinkspider.redact import redact
from backlinkspider.web.reader import Reader

MAX_PAGE = 1000  # rows in one JSON page; downloads (csv, jsonl) take any limit, 0 = every row
STREAM_CHUNK = 500  # rows per chunk written to a download


class ApiError(Exception):
    """An answer that is not a 200: its status and one line for a person."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = " ".join(detail.split())


# --- response models the records do not hold (the rest are records' TypedDicts) ---------------------


class Error(BaseModel):
    detail: str = Field(description="One line saying what was wrong.")


class IndexStatus(BaseModel):
    uri: str = Field(description="The index URI, any password replaced by ***.")
    backend: str
    edges: int = Field(description="Edges held, live and lost.")


class Worker(BaseModel):
    name: str
    pages: int
    links: int
    errors: int
    pages_per_s: float


class Ingest(BaseModel):
    files: int = Field(description="Files ever queued (each path once).")
    queued: int
    leased: int = Field(description="Files being ingested, one a worker.")
    done: int = Field(description="Files whose edges are written.")
    failed: int
    workers: int = Field(description="Ingest workers beating.")
    failures: dict[str, str] = Field(description="Up to 10 failed files and why.")


class Frontier(BaseModel):
    queue: int
    hosts: int
    seen: int
    leased: int
    dropped: int
    over_budget: int = Field(
        description="Entries not queued, or dropped, because their host's budget was spent."
    )
    workers: list[Worker]


class Status(BaseModel):
    index: IndexStatus
    frontier: Frontier | None = Field(description="The cluster frontier's figures when REDIS_URL is set.")
    ingest: Ingest | None = Field(
        description="The cluster's ingest queue, when REDIS_URL is set and it has files."
    )


class Health(BaseModel):
    status: Literal["ok"]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Bad input."},
    401: {"model": Error, "description": "A bearer token is required."},
    503: {"model": Error, "description": "The index cannot be read."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Error, "description": "No backlinks."}}

# --- parameters -------------------------------------------------------------------------------------

TargetParam = Query(min_length=1, max_length=4096, description="A domain, host or URL.")
ScopeParam = Query("auto", description="auto: a URL is a URL, anything else its registered domain.")
Format = Literal["json", "csv", "jsonl"]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _target(target: str, scope: str) -> Target:
    try:
        return queries.parse_target(target, scope)
    except BadTarget as exc:
        raise ApiError(400, f"target: {exc}") from None


def _doc(target: Target) -> TargetDoc:
    return {"scope": target.scope, "value": target.value}


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _body(model: Any, doc: object) -> bytes:
    """``doc`` validated against ``model`` (a record's TypedDict or a pydantic model) and serialized by
    it: what the OpenAPI schema declares is what is sent. Cached answers are validated once per write."""
    adapter = _adapter(model)
    return adapter.dump_json(adapter.validate_python(doc))


def _json(model: Any, doc: object) -> Response:
    return Response(_body(model, doc), media_type="application/json")


def router(reader: Reader, authorized: Any) -> APIRouter:
    """The ``/api/v1`` routes over one index; ``authorized`` (a dependency) guards all but healthz."""
    api = APIRouter(prefix="/api/v1")
    guarded = [authorized]

    @api.get("/summary", response_model=Summary, responses=NOT_FOUND, dependencies=guarded)
    def summary(
        target: str = TargetParam,
        scope: ScopeChoice = ScopeParam,
        include_lost: bool = Query(False, description="Count lost links too."),
    ) -> Response:
        """The backlink profile of a target (the same document as ``backlinks summary --format json``)."""
        return summary_answer(reader, _target(target, scope), include_lost)

    @api.get("/history", response_model=History, responses=NOT_FOUND, dependencies=guarded)
    def history(target: str = TargetParam, scope: ScopeChoice = ScopeParam) -> Response:
        """New and lost backlinks and referring domains per week (Monday UTC), from first_seen and the
        time a link was lost: what the page's charts draw."""
        parsed = _target(target, scope)
        weeks = reader.cached(("history", *parsed), lambda idx: queries.history(idx, parsed))
        if not weeks:
            raise ApiError(404, f"no backlinks to {parsed.scope} {parsed.value}")
        return _json(History, {"target": _doc(parsed), "weeks": weeks})

    @api.get(
        "/backlinks",
        response_model=BacklinksPage,
        dependencies=guarded,
        responses={
            **NOT_FOUND,
            200: {
                "description": "A page of rows (json), or rows as CSV or JSON Lines (csv, jsonl).",
                "content": {"text/csv": {}, "application/x-ndjson": {}},
            },
        },
    )
    def backlinks(
        target: str = TargetParam,
        scope: ScopeChoice = ScopeParam,
        rel: Rel | None = Query(None, description="follow: none of nofollow/ugc/sponsored; nofollow: any."),
        type: LinkType | None = Query(None, description="Only links of this type."),
        since: str | None = Query(None, description="First seen on or after (YYYY-MM-DD[THH:MM:SS], UTC)."),
        from_domain: str | None = Query(None, max_length=253, description="Only links from this domain."),
        anchor_contains: str | None = Query(None, max_length=1000, description="Anchor contains (any case)."),
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        provenance: str | None = Query(
            None, max_length=200, description="Only links last seen from: crawl, or an archive's name."
        ),
        one_per_domain: bool = Query(False, description="The best link per referring domain."),
        sort: Sort = Query("first_seen", description="Order of the rows (then edge id)."),
        limit: int = Query(
            100, ge=0, le=10**9, description=f"Rows; json pages up to {MAX_PAGE}; 0 = all (csv, jsonl)."
        ),
        offset: int = Query(0, ge=0, le=10**9, description="Skip this many rows (or use cursor)."),
        cursor: str | None = Query(None, max_length=2048, description="next_cursor of the previous page."),
        format: Format = Query("json", description="json pages; csv/jsonl download."),
    ) -> Response:
        """Backlinks of a target with every ``backlinks query`` filter and sort, paged by cursor, or
        downloaded as CSV / JSON Lines of any size."""
        parsed = _target(target, scope)
        _check_paging(format, limit, cursor, offset)
        filters = _filters(rel, type, since, from_domain, anchor_contains, status, provenance)
        listing = Listing(parsed, filters, sort, offset, cursor, one_per_domain)
        if format != "json" and not limit:
            return _download(reader, listing, format)
        return _page(reader, listing, limit, format)

    @api.get("/domains", response_model=Domains, responses=ERRORS, dependencies=guarded)
    def domains(
        sort: ScoreSort = Query("authority"),
        farm_only: bool = Query(False, description="Only domains in a link farm."),
        limit: int = Query(100, ge=1, le=MAX_PAGE),
    ) -> Response:
        """Domains by authority (or another score), once scores are computed; empty until then."""
        rows = queries.domains(reader.index(), sort, farm_only=farm_only, limit=limit)
        return _json(Domains, {"domains": rows})

    @api.get("/status", response_model=Status, responses=ERRORS, dependencies=guarded)
    def status() -> Response:
        """Index size; the cluster frontier's queue, seen, leased and workers, and the ingest queue's files,
        when REDIS_URL is set."""
        edges = reader.cached(("count",), lambda i: i.count())
        index = {"uri": redact(reader.uri), "backend": reader.uri.partition(":")[0], "edges": edges}
        return _json(Status, {"index": index, **cluster_figures()})

    @api.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        """The server is up (needs no token: for load balancers and probes)."""
        return {"status": "ok"}

    return api


def _check_paging(fmt: Format, limit: int, cursor: str | None, offset: int) -> None:
    if fmt == "json" and not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, f"limit: a json page holds 1 to {MAX_PAGE} rows (limit=0 needs csv or jsonl)")
    if cursor and offset:
        raise ApiError(400, "use cursor or offset, not both")


def _filters(
    rel: Rel | None,
    link_type: LinkType | None,
    since: str | None,
    from_domain: str | None,
    anchor_contains: str | None,
    status: LinkStatus,
    provenance: str | None,
) -> Filters:
    try:
        return queries.query_filters(
            rel=rel,
            link_type=link_type,
            since=queries.parse_since(since) if since else None,
            from_domain=from_domain,
            anchor_contains=anchor_contains,
            status=status,
            provenance=provenance,
        )
    except BadTarget as exc:
        raise ApiError(400, str(exc)) from None


def summary_answer(reader: Reader, target: Target, include_lost: bool) -> Response:
    """The summary document, cached as the bytes sent until the index changes; 404 with no backlinks."""

    def compute(idx: LinkIndex) -> bytes | None:
        try:
            return _body(Summary, queries.summary(idx, target, include_lost=include_lost))
        except NoBacklinks:
            return None

    body = reader.cached(("summary", *target, include_lost), compute)
    if body is None:
        raise ApiError(404, f"no backlinks to {target.scope} {target.value}")
    return Response(body, media_type="application/json")


@dataclass(frozen=True, slots=True)
class Listing:
    """What a backlinks request asks, but for its limit and format (with the limit: a page's cache key)."""

    target: Target
    filters: Filters
    sort: Sort
    offset: int
    cursor: str | None
    one_per_domain: bool

    def rows(self, index: LinkIndex, limit: int | None) -> Iterator[Listed]:
        return queries.backlinks(
            index,
            self.target,
            self.filters,
            sort=self.sort,
            limit=limit,
            offset=self.offset,
            cursor=self.cursor,
            one_per_domain=self.one_per_domain,
        )

    def nothing(self) -> ApiError:
        return ApiError(404, f"no backlinks to {self.target.scope} {self.target.value} match")


def _page(reader: Reader, listing: Listing, limit: int, fmt: Format) -> Response:
    """One page of rows: json with its next cursor, or csv / jsonl with it in ``X-Next-Cursor``."""

    def page(idx: LinkIndex) -> tuple[list[Backlink], str | None, bytes]:
        listed = list(listing.rows(idx, limit))
        next_cursor = listed[-1]["_cursor"] if len(listed) == limit else None
        rows: list[Backlink] = [_public(r) for r in listed]
        doc: BacklinksPage = {"target": _doc(listing.target), "rows": rows, "next_cursor": next_cursor}
        return rows, next_cursor, _body(BacklinksPage, doc)

    try:  # pages are cached like summaries: a popular target's first page is read once per write
        rows, next_cursor, body = reader.cached(("backlinks", listing, limit), page)
    except BadTarget as exc:
        raise ApiError(400, f"cursor: {exc}") from None
    if not rows and not (listing.cursor or listing.offset):
        raise listing.nothing()
    if fmt == "json":
        return Response(body, media_type="application/json")
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
    return Response(_encode(rows, fmt, header=True), media_type=MEDIA[fmt], headers=headers)


def _public(row: Listed) -> Backlink:
    """A listed row without its private cursor."""
    return cast(Backlink, output.plain(row))


def _encode(rows: list[Backlink], fmt: Format, *, header: bool = False) -> str:
    """Rows as the CLI's ``--format csv`` / ``jsonl`` print them."""
    out = io.StringIO()
    output.write(rows, fmt, out, QUERY_FIELDS, header=header)  # type: ignore[arg-type]  # not json here
    return out.getvalue()


def _download(reader: Reader, listing: Listing, fmt: Format) -> Response:
    """Every matching row, streamed in chunks from an index of the stream's own."""
    idx = reader.stream()
    try:
        rows = listing.rows(idx, None)
        first = next(rows, None)
    except BadTarget as exc:
        idx.close()
        raise ApiError(400, f"cursor: {exc}") from None
    except BaseException:
        idx.close()
        raise
    if first is None and not (listing.cursor or listing.offset):
        idx.close()
        raise listing.nothing()

    def chunks() -> Iterator[str]:
        try:
            yield _encode([], fmt, header=True)
            batch = [] if first is None else [_public(first)]
            for row in rows:
                batch.append(_public(row))
                if len(batch) == STREAM_CHUNK:
                    yield _encode(batch, fmt)
                    batch = []
            yield _encode(batch, fmt)
        finally:
            idx.close()

    name = re.sub(r"[^A-Za-z0-9.-]+", "-", listing.target.value)[:100]
    disposition = f'attachment; filename="backlinks-{name}.{fmt}"'
    return StreamingResponse(chunks(), media_type=MEDIA[fmt], headers={"Content-Disposition": disposition})


def cluster_figures() -> dict[str, dict[str, Any] | None]:
    """The cluster frontier's figures and the ingest queue's (backlinkspider.frontier.status) when
    REDIS_URL is set; None each otherwise."""
    from backlinkspider import config

    settings = config.project_settings()
    url = settings.get("REDIS_URL")
    if not url:
        return {"frontier": None, "ingest": None}
    from backlinkspider.frontier.connection import RedisUnavailable, connect_once
    from backlinkspider.frontier.status import figures, ingest_figures

    try:
        server = connect_once(url)
    except RedisUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    try:
        return {"frontier": figures(server, settings), "ingest": ingest_figures(server)}
    finally:
        server.close()


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)
