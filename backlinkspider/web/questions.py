"""The API routes of the everyday SEO questions (issue 19): ``/api/v1/intersect``, ``broken``,
``anchors``, ``outlinks`` and ``disavow``, the same answers as the CLI's (``query.questions``).

As every route of ``web/api.py``: typed answers (the records' documents), one-line errors (400 bad input,
404 nothing to answer, 503 the index), the token guard, and answers cached until the index changes.
``format=csv`` / ``jsonl`` gives the rows as the CLI prints them (the page's downloads).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
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
from backlinkspider.web.api import (
    MAX_PAGE,
    MEDIA,
    NOT_FOUND,
    ApiError,
    ScopeParam,
    TargetParam,
    _body,
    _check_paging,
    _doc,
    _target,
)
from backlinkspider.web.reader import Reader

T = TypeVar("T")
Format = Literal["json", "csv", "jsonl"]
MAX_DOMAINS = 50  # domains an intersect compares
DomainParam = Query(min_length=1, max_length=253, description="A registered domain (or a host or URL in it).")
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


@dataclass(frozen=True, slots=True)
class Answer:
    """How a question's rows are sent: a page of them in their document (json, validated by
    ``model``), or as CSV / JSON Lines rows of ``fields``."""

    model: Any
    fields: tuple[str, ...]
    document: Callable[[list[Any]], Mapping[str, Any]]

    def send(
        self,
        reader: Reader,
        key: tuple[object, ...],
        page: Paging,
        rows: Callable[[LinkIndex], list[Any]],
    ) -> Response:
        """The page asked for, cached as bytes (serializing thousands of rows costs far more than
        reading them from the cache), made from the whole answer, cached too."""
        _check_paging(page.format, page.limit, None, page.offset)

        def encode(_: LinkIndex) -> bytes:
            found = _asked(reader, key, rows)
            shown = found[page.offset : page.offset + page.limit if page.limit else None]
            if page.format == "json":
                return _body(self.model, {**self.document(shown), "total": len(found)})
            out = io.StringIO()
            output.write(shown, page.format, out, self.fields)
            return out.getvalue().encode()

        body = _asked(reader, ("sent", *key, page), encode)
        return Response(body, media_type="application/json" if page.format == "json" else MEDIA[page.format])


@dataclass(frozen=True, slots=True)
class Paging:
    """Which rows of an answer to send, and how."""

    format: Format
    limit: int
    offset: int


def _paging(
    format: Format = Query("json", description="json; csv / jsonl: the rows as the CLI prints them."),
    limit: int = Query(
        100, ge=0, le=10**9, description=f"Rows; json pages up to {MAX_PAGE}; 0 = all (csv, jsonl)."
    ),
    offset: int = Query(0, ge=0, le=10**9, description="Skip this many rows."),
) -> Paging:
    return Paging(format, limit, offset)


PageParams = Depends(_paging)


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
        page: Paging = PageParams,
    ) -> Response:
        """Referring domains linking to at least ``min`` of the ``target`` domains and to none of
        ``not``: best authority first (``backlinks intersect``)."""
        filters = Filters(rel=rel, status=status)
        answer = Answer(
            Intersect,
            INTERSECT_FIELDS,
            lambda rows: {
                "targets": _domains(target),
                "excluded": _domains(excluded),
                "min": at_least or len(_domains(target)),
                "rows": rows,
            },
        )
        return answer.send(
            reader,
            ("intersect", tuple(target), tuple(excluded), at_least, filters),
            page,
            lambda idx: questions.intersect(
                idx, target, excluded=excluded, at_least=at_least, filters=filters
            ),
        )

    @api.get("/broken", response_model=Broken, responses={**NOT_FOUND, **DOWNLOAD})
    def broken(
        target: str = TargetParam, scope: ScopeChoice = ScopeParam, page: Paging = PageParams
    ) -> Response:
        """Pages of a target whose last crawl failed, with the live links to each (``backlinks broken``)."""
        parsed = _target(target, scope)
        answer = Answer(
            Broken,
            BROKEN_FIELDS,
            lambda rows: {"target": _doc(parsed), "rows": rows},
        )
        return answer.send(reader, ("broken", *parsed), page, lambda idx: questions.broken(idx, parsed))

    @api.get("/anchors", response_model=Anchors, responses={**NOT_FOUND, **DOWNLOAD})
    def anchors(
        target: str = TargetParam,
        scope: ScopeChoice = ScopeParam,
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        page: Paging = PageParams,
    ) -> Response:
        """Anchor texts of a target by referring domains (``backlinks anchors``)."""
        parsed = _target(target, scope)
        answer = Answer(
            Anchors,
            ANCHOR_FIELDS,
            lambda rows: {"target": _doc(parsed), "rows": rows},
        )
        filters = Filters(status=status)
        return answer.send(
            reader, ("anchors", *parsed, status), page, lambda idx: questions.anchors(idx, parsed, filters)
        )

    @api.get("/outlinks", response_model=Outlinks, responses={**NOT_FOUND, **DOWNLOAD})
    def outlinks(
        source: str = DomainParam,
        status: LinkStatus = Query("live", description="Live links, lost ones or both."),
        page: Paging = PageParams,
    ) -> Response:
        """The domains a domain links to (``backlinks outlinks``)."""
        domain = _target(source, "domain").value
        answer = Answer(Outlinks, OUTLINK_FIELDS, lambda rows: {"source": domain, "rows": rows})
        return answer.send(
            reader, ("outlinks", domain, status), page, lambda idx: questions.outlinks(idx, domain, status)
        )

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


def _domains(texts: list[str]) -> list[str]:
    """The registered domains named, each once, in order (as ``questions.intersect`` reads them)."""
    return list(dict.fromkeys(_target(text, "domain").value for text in texts))


def _listed(domains: list[str]) -> tuple[str, ...]:
    try:
        return questions.read_domain_list(domains, "domain")
    except BadTarget as exc:
        raise ApiError(400, str(exc)) from None
