"""The API routes of the everyday SEO questions (issue 19): ``/api/v1/intersect``, ``broken``,
``anchors``, ``outlinks`` and ``disavow``, the same answers as the CLI's (``query.questions``).

As every route of ``web/api.py``: typed answers (the records' documents), one-line errors (400 bad input,
404 nothing to answer, 503 the index), the token guard, and answers cached until the index changes.
``format=csv`` / ``jsonl`` gives the rows as the CLI prints them (the page's downloads).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response

from backlinkspider.index import LinkIndex
from backlinkspider.query import output, questions
from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.records import (
    ANCHOR_FIELDS,
    BROKEN_FIELDS,
    INTERSECT_FIELDS,
    OUTLINK_FIELDS,
    Anchors,
    Broken,
    Filters,
    Intersect,
    Outlinks,
    Rel,
    ScopeChoice,
    Target,
)
from backlinkspider.records import Status as LinkStatus
from backlinkspider.web.api import MEDIA, NOT_FOUND, ApiError, ScopeParam, TargetParam, _body, _doc, _target
from backlinkspider.web.reader import Reader

T = TypeVar("T")
Format = Literal["json", "csv", "jsonl"]
MAX_DOMAINS = 50  # domains an intersect compares
DomainParam = Query(min_length=1, max_length=253, description="A registered domain (or a host or URL in it).")
FormatParam = Query("json", description="json; csv / jsonl: the rows as the CLI prints them.")
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer (json), or its rows as CSV or JSON Lines.",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    }
}


def _asked(reader: Reader, key: tuple[object, ...], question: Callable[[LinkIndex], T]) -> T:
    """``question`` over the index, cached until it changes; its errors as 400 and 404."""
    try:
        return reader.cached(key, question)
    except BadTarget as exc:
        raise ApiError(400, str(exc)) from None
    except (NoBacklinks, questions.NoScores) as exc:
        raise ApiError(404, str(exc)) from None


def _answer(
    model: Any,
    doc: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    fmt: Format,
    fields: tuple[str, ...],
) -> Response:
    if fmt == "json":
        return Response(_body(model, doc), media_type="application/json")
    out = io.StringIO()
    output.write(rows, fmt, out, fields)
    return Response(out.getvalue(), media_type=MEDIA[fmt])


def questions_router(reader: Reader, authorized: Any) -> APIRouter:
    """The question routes under ``/api/v1``, every one guarded by ``authorized``."""
    api = APIRouter(prefix="/api/v1", dependencies=[authorized])

    @api.get("/intersect", response_model=Intersect, responses={**NOT_FOUND, **DOWNLOAD})
    def intersect(
        target: list[str] = Query(min_length=1, max_length=MAX_DOMAINS, description="Competitors' domains."),
        excluded: list[str] = Query([], alias="not", max_length=MAX_DOMAINS, description="Your domains."),
        at_least: int | None = Query(None, alias="min", ge=1, le=MAX_DOMAINS, description="Default: all."),
        rel: Rel | None = Query(None, description="follow: only followed links; nofollow: only flagged."),
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        format: Format = FormatParam,
    ) -> Response:
        """Referring domains linking to at least ``min`` of the ``target`` domains and to none of
        ``not``: best authority first (``backlinks intersect``)."""
        filters = Filters(rel=rel, status=status)
        rows = _asked(
            reader,
            ("intersect", tuple(target), tuple(excluded), at_least, filters),
            lambda idx: questions.intersect(
                idx, target, excluded=excluded, at_least=at_least, filters=filters
            ),
        )
        doc: Intersect = {
            "targets": list(dict.fromkeys(target)),
            "excluded": list(dict.fromkeys(excluded)),
            "min": at_least or len(set(target)),
            "rows": rows,
        }
        return _answer(Intersect, doc, rows, format, INTERSECT_FIELDS)

    @api.get("/broken", response_model=Broken, responses={**NOT_FOUND, **DOWNLOAD})
    def broken(
        target: str = TargetParam, scope: ScopeChoice = ScopeParam, format: Format = FormatParam
    ) -> Response:
        """Pages of a target whose last crawl failed, with the live links to each (``backlinks broken``)."""
        parsed = _target(target, scope)
        rows = _asked(reader, ("broken", *parsed), lambda idx: questions.broken(idx, parsed))
        if not rows:
            raise ApiError(404, f"no broken pages of {parsed.scope} {parsed.value} have links")
        return _answer(Broken, {"target": _doc(parsed), "rows": rows}, rows, format, BROKEN_FIELDS)

    @api.get("/anchors", response_model=Anchors, responses={**NOT_FOUND, **DOWNLOAD})
    def anchors(
        target: str = TargetParam,
        scope: ScopeChoice = ScopeParam,
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        format: Format = FormatParam,
    ) -> Response:
        """Anchor texts of a target by referring domains (``backlinks anchors``)."""
        parsed = _target(target, scope)
        filters = Filters(status=status)
        rows = _asked(
            reader, ("anchors", *parsed, status), lambda idx: questions.anchors(idx, parsed, filters)
        )
        if not rows:
            raise ApiError(404, f"no backlinks to {parsed.scope} {parsed.value}")
        return _answer(Anchors, {"target": _doc(parsed), "rows": rows}, rows, format, ANCHOR_FIELDS)

    @api.get("/outlinks", response_model=Outlinks, responses={**NOT_FOUND, **DOWNLOAD})
    def outlinks(
        source: str = DomainParam,
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        format: Format = FormatParam,
    ) -> Response:
        """The domains a domain links to (``backlinks outlinks``)."""
        domain = _target(source, "domain").value
        rows = _asked(
            reader, ("outlinks", domain, status), lambda idx: questions.outlinks(idx, domain, status)
        )
        return _answer(Outlinks, {"source": domain, "rows": rows}, rows, format, OUTLINK_FIELDS)

    @api.get(
        "/disavow",
        response_class=Response,
        responses={**NOT_FOUND, 200: {"description": "A disavow file.", "content": {"text/plain": {}}}},
    )
    def disavow(
        farm_only: bool = Query(False, description="Link farm members."),
        spam_mass_over: float | None = Query(None, ge=0, le=1, description="Spam mass above this."),
        domain: list[str] | None = Query(None, max_length=10_000, description="Only these domains."),
        target: str | None = Query(None, min_length=1, max_length=4096, description="Only its referrers."),
    ) -> Response:
        """A disavow file for Google Search Console (``backlinks disavow``): the domains every given
        filter picks (at least one of farm_only, spam_mass_over, domain)."""
        parsed: Target | None = None if target is None else _target(target, "auto")
        listed = None if domain is None else _listed(domain)
        pick = questions.DisavowPick(farm_only, spam_mass_over, listed, parsed, "the page's table")
        picked = _asked(reader, ("disavow", pick), lambda idx: questions.disavowed(idx, pick))
        return Response(
            questions.disavow_file(picked, pick),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="disavow.txt"'},
        )

    return api


def _listed(domains: list[str]) -> tuple[str, ...]:
    try:
        return questions.read_domain_list(domains, "domain")
    except BadTarget as exc:
        raise ApiError(400, str(exc)) from None
