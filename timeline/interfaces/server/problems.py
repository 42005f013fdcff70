"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error a client can cause is a 4xx with a `type` that names what was
wrong (see the README's table), a `title` and a `detail` meant for a person,
and extension members where a program can use them: the file, line, field
and key of a refused dossier, the invalid parameters of a request. Nothing a
client sends reaches a 500 or a traceback; a database that cannot be
reached is a 503.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from timeline.errors import (
    ConcurrencyError,
    DossierError,
    DuplicateEvent,
    InvalidEvent,
    StoreUnavailable,
    TimelineError,
    UnknownItem,
    UnknownName,
)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("timeline.server")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}
"""Problem details as the OpenAPI document gives them; extensions are allowed."""


class Problem(Exception):
    """An error answered as problem details: `kind` is the last part of its type."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}

    def response(self, request: Request) -> Response:
        body = {
            "type": f"/problems/{self.kind}" if self.kind else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": request.url.path,
            **self.extensions,
        }
        return Response(
            orjson.dumps(body), self.status, headers=self.headers, media_type=MEDIA_TYPE
        )


def of_error(err: TimelineError) -> Problem:
    """The problem an engine error is, for a client."""
    match err:
        case UnknownName():
            return Problem(404, "unknown-name", f"Unknown {err.kind}", str(err), name=err.value)
        case UnknownItem() if err.dossiers:
            return Problem(400, "ambiguous-item", "Item in several dossiers", str(err))
        case UnknownItem():
            return Problem(404, "unknown-item", "Unknown item", str(err))
        case DossierError():
            where = {"file": err.file, "line": err.line, "key": err.key, "field": err.field}
            found = {name: value for name, value in where.items() if value is not None}
            return Problem(422, "invalid-dossier", "Invalid dossier", str(err), **found)
        case DuplicateEvent():
            return Problem(409, "duplicate-event", "Event already stored", str(err))
        case ConcurrencyError():
            return Problem(409, "concurrent-append", "Concurrent append", str(err))
        case StoreUnavailable():
            return Problem(503, "store-unavailable", "Database unavailable", str(err))
        case InvalidEvent():
            return Problem(400, "invalid-value", "Invalid value", str(err))
    return Problem(400, "invalid-request", "Invalid request", str(err))


def install(app: FastAPI) -> None:
    """Answer every error of `app` with problem details."""

    @app.exception_handler(Problem)
    async def problem(request: Request, err: Problem) -> Response:
        return err.response(request)

    @app.exception_handler(TimelineError)
    async def engine_error(request: Request, err: TimelineError) -> Response:
        return of_error(err).response(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        errors = [
            {
                "in": str(e["loc"][0]),
                "name": ".".join(str(p) for p in e["loc"][1:]),
                "msg": e["msg"],
            }
            for e in err.errors()
        ]
        detail = "; ".join(f"{e['name'] or e['in']}: {e['msg']}" for e in errors)
        found = Problem(400, "invalid-parameter", "Invalid parameter", detail, errors=errors)
        return found.response(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        found = Problem(err.status_code, "", _phrase(err.status_code), str(err.detail))
        found.headers.update(err.headers or {})
        return found.response(request)

    @app.exception_handler(sa.exc.OperationalError)
    async def unavailable(request: Request, err: sa.exc.OperationalError) -> Response:
        log.warning("database error on %s: %s", request.url.path, err.orig)
        detail = "the database cannot be reached or is busy; try again"
        return Problem(503, "store-unavailable", "Database unavailable", detail).response(request)

    @app.exception_handler(sa.exc.DataError)
    async def refused(request: Request, err: sa.exc.DataError) -> Response:
        # A value the database cannot hold at all (a NUL character on PostgreSQL).
        detail = "expected values the database can hold: no NUL characters"
        return Problem(400, "invalid-value", "Invalid value", detail).response(request)

    @app.exception_handler(sa.exc.TimeoutError)
    async def busy(request: Request, err: sa.exc.TimeoutError) -> Response:
        log.warning("no database connection free for %s: %s", request.url.path, err)
        detail = "every database connection is busy; try again"
        found = Problem(503, "store-unavailable", "Database busy", detail)
        found.headers["Retry-After"] = "1"
        return found.response(request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        detail = "the server failed to answer; the error is in its log"
        return Problem(500, "internal", "Internal error", detail).response(request)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
