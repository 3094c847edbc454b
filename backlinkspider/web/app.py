"""``backlinks serve``: the web page at ``/``, the JSON API at ``/api/v1``, its OpenAPI docs at ``/docs``.

Everything is served from the package (the page, Chart.js, Swagger UI), so it works offline. The server
only reads the index. Off loopback it requires a bearer token (``BACKLINKS_API_TOKEN``): a backlink index
is often private, and an open port on a network is not.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from backlinkspider import __version__
from backlinkspider.index import DEFAULT_INDEX, IndexUnavailable, LinkIndex
from backlinkspider.redact import redact
from backlinkspider.web.api import ApiError, api_error, router
from backlinkspider.web.questions import questions_router
from backlinkspider.web.reader import Reader

STATIC = Path(__file__).parent / "static"
TOKEN_ENV = "BACKLINKS_API_TOKEN"
log = logging.getLogger("backlinkspider.web")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


_bearer = HTTPBearer(auto_error=False, description="BACKLINKS_API_TOKEN, when the server has one.")


class RequireToken:
    """A dependency: the request carries ``Authorization: Bearer <token>`` (anything goes without one)."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if self.token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise ApiError(401, f"a bearer token is required (Authorization: Bearer {TOKEN_ENV})")


def create_app(
    index_uri: str | None = None,
    token: str | None = None,
    opener: Callable[[str], LinkIndex] | None = None,
) -> FastAPI:
    """The application over ``index_uri`` (default: env BACKLINKS_INDEX). With a ``token`` (default: env
    BACKLINKS_API_TOKEN), every API request but healthz needs ``Authorization: Bearer <token>``.
    ``opener`` opens the index (tests pass a MongoDB stand-in)."""
    uri = index_uri or os.environ.get("BACKLINKS_INDEX", DEFAULT_INDEX)
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    reader = Reader(uri, opener)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        reader.close()

    app = FastAPI(
        title="backlinkspider",
        version=__version__,
        description="Read-only API over a backlink index: who links to a domain, host or URL.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.include_router(router(reader, Depends(RequireToken(token))))
    app.include_router(questions_router(reader, Depends(RequireToken(token))))
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, _bad_input)
    app.add_exception_handler(IndexUnavailable, _unavailable(uri))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="backlinkspider API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    return app


def app_from_env() -> FastAPI:
    """The factory each uvicorn worker calls (``serve`` passes its options through the environment)."""
    return create_app()


async def _bad_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    return await api_error(request, ApiError(400, f"{where}: {first.get('msg', 'invalid')}"))


def _unavailable(uri: str) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        message = str(exc).replace(uri, redact(uri))
        log.error("%s", message)
        return await api_error(request, ApiError(503, message))

    return handler


def serve(index: str, host: str, port: int, workers: int) -> None:
    """Run the server (blocking) with ``workers`` processes."""
    import uvicorn

    os.environ["BACKLINKS_INDEX"] = index
    uvicorn.run(
        "backlinkspider.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
    )
