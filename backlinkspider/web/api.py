"""The JSON API under ``/api/v1``: read-only, GET only, every answer typed in the OpenAPI schema.

A target is a query parameter (a URL does not fit in a path). Bad input is a 400 with a one-line
``detail``; a target with no backlinks is a 404; an index that cannot be read is a 503; never a 500.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from backlinkspider.extract import LINK_TYPES
from backlinkspider.index import BadTarget, LinkIndex, Target, parse_target
from backlinkspider.index.base import QUERY_FIELDS, SORTS
from backlinkspider.profile import RELS, NoBacklinks, csv_row, parse_since, query_filters, summary_document
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


# --- response models (the OpenAPI schema) -----------------------------------------------------------


class Error(BaseModel):
    detail: str = Field(description="One line saying what was wrong.")


class TargetRead(BaseModel):
    scope: Literal["domain", "host", "url"] = Field(description="How the target was read.")
    value: str = Field(description="The registered domain, host or normalized URL.")


class Count(BaseModel):
    value: str
    count: int


class Window(BaseModel):
    backlinks: int
    referring_domains: int


class RelSplit(BaseModel):
    follow: int
    nofollow: int
    ugc: int
    sponsored: int


class TypeSplit(BaseModel):
    text: int
    image: int
    canonical: int
    redirect: int


class Windows(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    d7: Window = Field(alias="7d")
    d30: Window = Field(alias="30d")


class AuthorityBand(BaseModel):
    band: str
    referring_domains: int


class Summary(BaseModel):
    """The backlink profile: the keys of ``backlinks summary --format json``. Score signals are null
    until scores are computed."""

    target: TargetRead
    backlinks: int
    referring_pages: int
    referring_domains: int
    referring_hosts: int
    referring_tlds: list[Count] = Field(description="Referring domains per public suffix.")
    by_rel: RelSplit
    by_type: TypeSplit
    top_anchors: list[Count]
    top_referring_domains: list[Count]
    top_pages: list[Count]
    first_seen: str | None
    last_seen: str | None
    new: Windows
    lost: Windows
    authority: float | None = None
    pagerank: float | None = None
    trust: float | None = None
    spam_mass: float | None = None
    farm: bool | None = None
    farm_id: int | str | None = None
    farm_role: str | None = None
    reciprocal_domains: int | None = None
    authority_bands: list[AuthorityBand] | None = None
    scores_computed_at: str | None = None
    scores_age_seconds: int | None = None
    scores_stale: bool | None = None
    scores_note: str | None = None


class Week(BaseModel):
    week: str = Field(description="The Monday (UTC) the week starts, YYYY-MM-DD.")
    new_backlinks: int
    lost_backlinks: int
    new_referring_domains: int
    lost_referring_domains: int


class History(BaseModel):
    target: TargetRead
    weeks: list[Week] = Field(description="Every week from the first to the last with activity.")


class Backlink(BaseModel):
    """One edge, as ``backlinks query --format jsonl`` prints it (later fields may be added)."""

    source_url: str
    target_url: str
    source_domain: str
    target_domain: str
    link_type: str
    anchor_text: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    first_seen: str
    last_seen: str
    lost_at: str | None = None
    source_authority: float | None = None
    reciprocal: bool | None = None


class BacklinksPage(BaseModel):
    target: TargetRead
    rows: list[Backlink]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last.")


class DomainScore(BaseModel):
    domain: str
    pagerank: float | None = None
    authority: float | None = None
    trust: float | None = None
    spam_mass: float | None = None
    farm: bool | None = None
    farm_id: int | str | None = None
    farm_role: str | None = None
    reciprocal_domains: int | None = None
    referring_domains: int | None = None
    linked_domains: int | None = None
    computed_at: str | None = None


class Domains(BaseModel):
    domains: list[DomainScore] = Field(description="Empty until scores are computed.")


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


class Frontier(BaseModel):
    queue: int
    hosts: int
    seen: int
    leased: int
    dropped: int
    workers: list[Worker]


class Status(BaseModel):
    index: IndexStatus
    frontier: Frontier | None = Field(description="The cluster frontier's figures when REDIS_URL is set.")


class Health(BaseModel):
    status: Literal["ok"]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Bad input."},
    401: {"model": Error, "description": "A bearer token is required."},
    503: {"model": Error, "description": "The index cannot be read."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Error, "description": "No backlinks."}}

# --- parameters -------------------------------------------------------------------------------------

# Choices read from where they are defined (a new sort or link type appears in the API by itself).
Rel = Literal[RELS]  # type: ignore[valid-type]
LinkType = Literal[LINK_TYPES]  # type: ignore[valid-type]
Sort = Literal[SORTS]  # type: ignore[valid-type]

TargetParam = Query(min_length=1, max_length=4096, description="A domain, host or URL.")
ScopeParam = Query("auto", description="auto: a URL is a URL, anything else its registered domain.")


def _target(target: str, scope: str) -> Target:
    try:
        return parse_target(target, scope)
    except BadTarget as exc:
        raise ApiError(400, f"target: {exc}") from None


def _json(model: type[BaseModel], doc: Any) -> Response:
    """A document already in the model's shape, serialized once (cached answers skip validation)."""
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/json")


def router(reader: Reader, authorized: Any) -> APIRouter:
    """The ``/api/v1`` routes over one index; ``authorized`` (a dependency) guards all but healthz."""
    api = APIRouter(prefix="/api/v1")
    guarded = [authorized]

    @api.get("/summary", response_model=Summary, responses=NOT_FOUND, dependencies=guarded)
    def summary(
        target: str = TargetParam,
        scope: Literal["auto", "domain", "host", "url"] = ScopeParam,
        include_lost: bool = Query(False, description="Count lost links too."),
    ) -> Response:
        """The backlink profile of a target (the same document as ``backlinks summary --format json``)."""
        parsed = _target(target, scope)

        def compute(idx: LinkIndex) -> bytes | None:
            try:
                return json.dumps(summary_document(idx, parsed, include_lost=include_lost)).encode()
            except NoBacklinks:
                return None

        body = reader.cached(("summary", *parsed, include_lost), compute)
        if body is None:
            raise ApiError(404, f"no backlinks to {parsed.scope} {parsed.value}")
        return Response(body, media_type="application/json")

    @api.get("/history", response_model=History, responses=NOT_FOUND, dependencies=guarded)
    def history(
        target: str = TargetParam, scope: Literal["auto", "domain", "host", "url"] = ScopeParam
    ) -> Response:
        """New and lost backlinks and referring domains per week (Monday UTC), from first_seen and the
        time a link was lost: what the page's charts draw."""
        parsed = _target(target, scope)
        weeks = reader.cached(("history", *parsed), lambda idx: idx.history(parsed))
        if not weeks:
            raise ApiError(404, f"no backlinks to {parsed.scope} {parsed.value}")
        return _json(History, {"target": parsed._asdict(), "weeks": weeks})

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
        scope: Literal["auto", "domain", "host", "url"] = ScopeParam,
        rel: Rel | None = Query(None, description="follow: none of nofollow/ugc/sponsored; nofollow: any."),
        type: LinkType | None = Query(None, description="Only links of this type."),
        since: str | None = Query(None, description="First seen on or after (YYYY-MM-DD[THH:MM:SS], UTC)."),
        from_domain: str | None = Query(None, max_length=253, description="Only links from this domain."),
        anchor_contains: str | None = Query(None, max_length=1000, description="Anchor contains (any case)."),
        status: Literal["live", "lost", "all"] = Query("live", description="Live links, lost ones or both."),
        one_per_domain: bool = Query(False, description="The best link per referring domain."),
        sort: Sort = Query("first_seen", description="Order of the rows (then edge id)."),
        limit: int = Query(
            100, ge=0, le=10**9, description=f"Rows; json pages up to {MAX_PAGE}; 0 = all (csv, jsonl)."
        ),
        offset: int = Query(0, ge=0, le=10**9, description="Skip this many rows (or use cursor)."),
        cursor: str | None = Query(None, max_length=2048, description="next_cursor of the previous page."),
        format: Literal["json", "csv", "jsonl"] = Query(
            "json", description="json pages; csv/jsonl download."
        ),
    ) -> Response:
        """Backlinks of a target with every ``backlinks query`` filter and sort, paged by cursor, or
        downloaded as CSV / JSON Lines of any size."""
        parsed = _target(target, scope)
        if format == "json" and not 1 <= limit <= MAX_PAGE:
            raise ApiError(400, f"limit: a json page holds 1 to {MAX_PAGE} rows (limit=0 needs csv or jsonl)")
        if cursor and offset:
            raise ApiError(400, "use cursor or offset, not both")
        try:
            filters = query_filters(
                rel=rel,
                link_type=type,
                since=parse_since(since) if since else None,
                from_domain=from_domain,
                anchor_contains=anchor_contains,
                status=status,
            )
        except BadTarget as exc:
            raise ApiError(400, str(exc)) from None
        args = {"sort": sort, "offset": offset, "cursor": cursor, "one_per_domain": one_per_domain}
        if format != "json" and not limit:
            return _download(reader, parsed, filters, args, format)

        def page(idx: LinkIndex) -> tuple[list[dict[str, Any]], str | None, bytes]:
            rows = [_shown(r) for r in idx.query(parsed, filters, limit=limit, **args)]
            next_cursor = rows[-1]["_cursor"] if len(rows) == limit else None
            rows = [_plain(r) for r in rows]
            doc = {"target": parsed._asdict(), "rows": rows, "next_cursor": next_cursor}
            return rows, next_cursor, json.dumps(doc, ensure_ascii=False).encode()

        try:  # pages are cached like summaries: a popular target's first page is read once per write
            rows, next_cursor, body = reader.cached(
                ("backlinks", *parsed, filters, limit, *args.values()), page
            )
        except BadTarget as exc:
            raise ApiError(400, f"cursor: {exc}") from None
        if not rows and not (cursor or offset):
            raise ApiError(404, f"no backlinks to {parsed.scope} {parsed.value} match")
        if format == "json":
            return Response(body, media_type="application/json")
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return Response(_encode(rows, format, header=True), media_type=MEDIA[format], headers=headers)

    @api.get("/domains", response_model=Domains, responses=ERRORS, dependencies=guarded)
    def domains(
        sort: Literal["authority", "trust", "spam_mass", "referring_domains"] = Query("authority"),
        farm_only: bool = Query(False, description="Only domains in a link farm."),
        limit: int = Query(100, ge=1, le=MAX_PAGE),
    ) -> Response:
        """Domains by authority (or another score), once scores are computed; empty until then."""
        return _json(Domains, {"domains": domain_scores(reader.index(), sort, farm_only, limit)})

    @api.get("/status", response_model=Status, responses=ERRORS, dependencies=guarded)
    def status() -> Response:
        """Index size; the cluster frontier's queue, seen, leased and workers when REDIS_URL is set."""
        edges = reader.cached(("count",), lambda i: i.count())
        index = {"uri": redact(reader.uri), "backend": reader.uri.partition(":")[0], "edges": edges}
        return _json(Status, {"index": index, "frontier": frontier_figures()})

    @api.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        """The server is up (needs no token: for load balancers and probes)."""
        return {"status": "ok"}

    return api


MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the CLI prints it (no private keys) but for its cursor."""
    return {k: v for k, v in row.items() if not k.startswith("_") or k == "_cursor"}


def _encode(rows: list[dict[str, Any]], fmt: str, *, header: bool = False) -> str:
    """Rows as the CLI's ``--format csv`` / ``jsonl`` print them."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=QUERY_FIELDS, lineterminator="\n", extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(csv_row(r) for r in rows)
    return out.getvalue()


def _download(reader: Reader, target: Target, filters: Any, args: dict[str, Any], fmt: str) -> Response:
    """Every matching row, streamed in chunks from an index of the stream's own."""
    idx = reader.stream()
    try:
        rows = idx.query(target, filters, **args)
        first = next(rows, None)
    except BadTarget as exc:
        idx.close()
        raise ApiError(400, f"cursor: {exc}") from None
    except BaseException:
        idx.close()
        raise
    if first is None and not (args["cursor"] or args["offset"]):
        idx.close()
        raise ApiError(404, f"no backlinks to {target.scope} {target.value} match")

    def chunks() -> Iterator[str]:
        try:
            yield _encode([], fmt, header=True)
            batch = [] if first is None else [_plain(first)]
            for row in rows:
                batch.append(_plain(row))
                if len(batch) == STREAM_CHUNK:
                    yield _encode(batch, fmt)
                    batch = []
            yield _encode(batch, fmt)
        finally:
            idx.close()

    name = re.sub(r"[^A-Za-z0-9.-]+", "-", target.value)[:100]
    disposition = f'attachment; filename="backlinks-{name}.{fmt}"'
    return StreamingResponse(chunks(), media_type=MEDIA[fmt], headers={"Content-Disposition": disposition})


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def domain_scores(index: LinkIndex, sort: str, farm_only: bool, limit: int) -> list[dict[str, Any]]:
    """The authority list from the last ``backlinks rank`` (empty before one)."""
    return list(index.domain_scores(sort=sort, farm_only=farm_only, limit=limit))


def frontier_figures() -> dict[str, Any] | None:
    """The cluster frontier's figures (backlinkspider.frontier.status) when REDIS_URL is set."""
    from backlinkspider import config

    settings = config.project_settings()
    url = settings.get("REDIS_URL")
    if not url:
        return None
    from backlinkspider.frontier.connection import RedisUnavailable, connect_once
    from backlinkspider.frontier.status import figures

    try:
        server = connect_once(url)
    except RedisUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    try:
        return figures(server, settings)
    finally:
        server.close()


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)
