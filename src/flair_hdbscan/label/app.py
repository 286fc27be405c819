"""The labelling page as an ASGI app (Starlette): pages, JSON API, crops, static files.

Routes (every request must carry the session's token, as ``?token=…`` or the
``X-Label-Token`` header; without it: 403):

================================  ============================================================
``GET /``                         the labelling view (next pixel, classes, keys, progress)
``GET /clusters``                 the list view: every cluster, its name, rename any
``GET /api/state``                JSON: the next pixel, its cluster, spectrum, members, progress
``GET /api/clusters``             JSON: every non-empty cluster, largest first
``POST /api/answer``              ``{"position": p, "answer": 0..12 | "mixed" | "skip"}``
``POST /api/undo``                undo the last answer, skip or rename
``POST /api/rename``              ``{"cluster": c, "answer": 0..12 | "mixed" | null}``
``GET /crop/{row}``               PNG crop around pool row ``row``: ``mode=rgb|nir``,
                                  ``size`` (window, patch pixels), ``out`` (screen pixels)
``GET /static/…``                 the page's script and style sheet
================================  ============================================================

Errors are one line of JSON (``{"error": …}``) or text, never a traceback: a user's mistake
(a stale position, a bad answer) is 400, a fault (disk full) 500.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from flair_hdbscan.errors import FaultError, FlairError
from flair_hdbscan.label.imagery import MODES, OUT_SIZES, WINDOWS
from flair_hdbscan.label.service import (
    MEMBER_CROP,
    MIXED_KEY,
    PIXEL_CROPS,
    SKIP_KEY,
    LabelService,
    class_table,
)

__all__ = ["TOKEN_HEADER", "TokenGuard", "make_app", "new_token"]

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-label-token"
_HERE = Path(__file__).resolve().parent
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_FORBIDDEN = (
    b"403 forbidden: open the URL that `flair-hdbscan label` printed (it carries the token)\n"
)


def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


class TokenGuard:
    """ASGI middleware: refuse (403) any HTTP request without the token; add safe headers.

    Args:
        app: the wrapped app.
        token: the session's token.
    """

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def _given(self, scope: dict[str, Any]) -> str:
        for name, value in scope.get("headers", []):
            if name.decode("latin-1").lower() == TOKEN_HEADER:
                return value.decode("latin-1")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query.get("token", [""])[0]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Check the token of HTTP requests, pass everything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not secrets.compare_digest(self._given(scope).encode(), self.token.encode()):
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(_FORBIDDEN)).encode()),
                        (b"referrer-policy", b"no-referrer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _FORBIDDEN})
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


async def _flair_error(request: Request, exc: Exception) -> Response:
    status = 500 if isinstance(exc, FaultError) else 400
    return _error(status, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    return _error(getattr(exc, "status_code", 500), getattr(exc, "detail", str(exc)))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("request %s failed: %s: %s", request.url.path, type(exc).__name__, exc)
    return _error(500, f"internal error ({type(exc).__name__}); the answers saved so far are kept")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return body


def _int(value: Any, what: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{what} must be an integer, got {value!r}") from None


def make_app(service: LabelService, token: str, *, title: str = "flair-hdbscan label") -> Starlette:
    """The ASGI app of a labelling session.

    Args:
        service: the session's actions and reads.
        token: the token every request must carry.
        title: the page title.
    """
    context = {
        "title": title,
        "token": token,
        "classes": class_table(),
        "skip_key": SKIP_KEY,
        "mixed_key": MIXED_KEY,
        "experiment": service.data.provenance["request"]["clustering"]["name"],
        "features": service.data.provenance["request"]["features"],
        "split": service.data.provenance["request"]["data"]["split"],
        "config": json.dumps(
            {
                "token": token,
                "windows": WINDOWS,
                "outs": OUT_SIZES,
                "modes": MODES,
                "pixel_crop": PIXEL_CROPS[0][1:],
                "member_crop": MEMBER_CROP[1:],
            }
        ),
    }

    def page(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            html = _ENV.get_template(name).render(**context)
            return HTMLResponse(html, headers={"cache-control": "no-store"})

        return endpoint

    async def state(request: Request) -> Response:
        return JSONResponse(
            await run_in_threadpool(service.state), headers={"cache-control": "no-store"}
        )

    async def clusters(request: Request) -> Response:
        return JSONResponse(
            await run_in_threadpool(service.clusters), headers={"cache-control": "no-store"}
        )

    async def answer(request: Request) -> Response:
        body = await _body(request)
        position = _int(body.get("position"), "position")
        return JSONResponse(await run_in_threadpool(service.answer, position, body.get("answer")))

    async def undo(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(service.undo))

    async def rename(request: Request) -> Response:
        body = await _body(request)
        cluster = _int(body.get("cluster"), "cluster")
        return JSONResponse(await run_in_threadpool(service.rename, cluster, body.get("answer")))

    async def crop(request: Request) -> Response:
        q = request.query_params
        row = _int(request.path_params["row"], "row")
        png = await run_in_threadpool(
            service.crop,
            row,
            mode=q.get("mode", "rgb"),
            size=_int(q.get("size", 96), "size"),
            out=_int(q.get("out", 384), "out"),
        )
        return Response(
            png, media_type="image/png", headers={"cache-control": "private, max-age=3600"}
        )

    routes = [
        Route("/", page("label.html.j2")),
        Route("/clusters", page("clusters.html.j2")),
        Route("/api/state", state),
        Route("/api/clusters", clusters),
        Route("/api/answer", answer, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/rename", rename, methods=["POST"]),
        Route("/crop/{row:int}", crop),
        Mount("/static", app=StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    return Starlette(
        debug=False,
        routes=routes,
        middleware=[Middleware(TokenGuard, token=token)],
        exception_handlers={
            FlairError: _flair_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
